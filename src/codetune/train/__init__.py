"""The LoRA run: train loop on transformers' Trainer, eval every N steps, checkpoints, resume."""
