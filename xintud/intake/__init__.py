"""Intake: notice new photos — watch the folders, wait until files settle, scan for missed ones."""
