"""The API routers, one module per resource, mounted under /api by main.py."""
