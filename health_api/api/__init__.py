"""HTTP layer: Flask blueprints, schemas, auth and error handlers."""
