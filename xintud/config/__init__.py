"""Config: the one TOML file — its schema (schema.py) and its loading (load.py)."""
