"""progdemix-tui: progressive inference music demixing with Hybrid Demucs."""

__version__ = "0.1.0"
