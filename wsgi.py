"""WSGI entry point: what gunicorn and `flask` import."""

from webapp import create_app

app = create_app()
