"""Command lines: `xintud` (the daemon and offline commands), `xintuctl`, login service files."""
