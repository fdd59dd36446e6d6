"""The LoRA run: train loop on transformers' Trainer, eval every N steps, checkpoints, resume.

run.py       train_run(cfg, run_name, resume=, overwrite=) -> RUN_DIR: the recipe, top to bottom
build.py     training_arguments + build_trainer: the Trainer a run trains with, from plain values (the
             benchmarks build theirs with it too)
trainer.py   Trainer subclass (seeded length grouping, token-weighted eval) and the callbacks that
             write the metrics rows, finish checkpoints atomically and draw the progress bar
collate.py   dynamic padding, padding-free packing, per-row eval loss sums
summary.py   metrics rows, the run summary, the overfitting signal, the loss plot (pure; the report reuses it)
"""
