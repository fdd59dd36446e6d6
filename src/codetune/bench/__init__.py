"""Benchmark path: LiveCodeBench rows, prompts, generation, code extraction, scoring, pass@k."""
