"""Duplicates: copies, bursts and the best shot of each group; nothing here moves a file."""
