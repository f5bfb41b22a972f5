"""What the Flask app and the FastAPI variant share: models, SQL statements, writes, security.

Nothing here imports a web framework; each app adds only its framework's wiring.
"""
