"""The embedded SQLite backend: the only package that imports sqlite3."""
