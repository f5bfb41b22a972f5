"""Conduit API. `webapp.core` is framework-neutral (models, statements, writes, tokens, domain
errors) and shared with the FastAPI variant; the Flask app is `webapp.app.create_app`. This file
imports nothing, so importing the core never loads Flask."""
