"""Adapters from public evaluation sets to the harness's own format."""
