"""The browser as an output device: package data (the listener's page)."""
