"""The ``keepwarm`` command line."""
