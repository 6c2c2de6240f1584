"""Scores: retrieval, answers, abstention."""
