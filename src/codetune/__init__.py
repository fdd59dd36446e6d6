"""codetune: a whole LoRA fine-tuning study of a code LLM, from one YAML file."""

__version__ = "0.1.0"
