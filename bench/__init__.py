"""xintud's benchmark harness: `python -m bench` (see bench/RESULTS.md for recorded figures)."""
