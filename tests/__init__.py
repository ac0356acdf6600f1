"""keepwarm test suite."""
