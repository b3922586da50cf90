"""The contract suite runs every test on both backends through ``storage`` (tests/conftest.py)."""
