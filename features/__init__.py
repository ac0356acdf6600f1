"""features stage (see issue 3+): nothing here yet."""
