"""Learning: fit the category head (the shipped one now; the user's corrections next)."""
