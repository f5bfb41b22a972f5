"""The FastAPI variant of the Conduit API: the same contract, tables and SQL as the Flask app.

It shares webapp.core (models, statements, writes, security, domain errors) with webapp/ and
adds only FastAPI's wiring: settings, the session dependency, pydantic models, routers and the
exception handlers. It imports no Flask module.
"""
