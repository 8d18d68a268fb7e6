"""Core: what every stage shares — categories, photo facts, files, hashes, text, paths."""
