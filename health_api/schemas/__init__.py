"""marshmallow schemas: the HTTP shapes of requests and responses (one per shape)."""
