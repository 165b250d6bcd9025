"""The system tests."""
