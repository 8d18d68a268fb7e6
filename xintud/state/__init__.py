"""State: the SQLite database — the work queue, what is known of each photo, the journal."""
