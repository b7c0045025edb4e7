"""The package version, kept apart so that every layer (cache keys, results files) can read it without
importing the whole package."""

__version__ = "0.1.0"
