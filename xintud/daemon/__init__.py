"""Daemon: assembles intake → engine → library → state into the long-running service."""
