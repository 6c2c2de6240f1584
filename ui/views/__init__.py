"""The pages of the UI, one module each, each with a ``page()`` function."""
