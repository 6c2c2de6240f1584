"""Ingestion pipeline: load → chunk → embed → store."""
