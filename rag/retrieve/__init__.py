"""Retrieval: from a query to ranked chunks."""
