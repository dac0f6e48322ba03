"""Runnable examples for the scenario engine (demo target APIs)."""
