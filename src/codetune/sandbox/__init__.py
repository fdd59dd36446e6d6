"""Executing untrusted, model-written programs: limits, isolation, a warm worker pool. Imports no torch."""
