"""Performance benchmark: the engine against hand-written Locust users (see bench/compare.py)."""
