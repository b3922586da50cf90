"""The gunicorn entry point: ``gunicorn wsgi:app``."""

from health_api import create_app

app = create_app()
