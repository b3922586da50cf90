"""Domain dataclasses, errors and pure rules; the standard library only."""
