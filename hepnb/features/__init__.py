"""Feature building per chapter (one submodule per chapter)."""
