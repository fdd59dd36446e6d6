"""Instruction datasets: sources, splits by problem, chat formatting with completion-only labels, profile, built-in tasks."""
