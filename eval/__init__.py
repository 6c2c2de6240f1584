"""Evaluation harness: datasets → run → score → report."""
