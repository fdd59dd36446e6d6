"""Batches from tokenized rows: dynamic padding (the default) or padding-free packing, and per-row eval losses.

The rows already carry their labels (-100 outside the assistant answer, set by codetune.data); these
collators only lay rows side by side and never change which tokens carry loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

IGNORE_INDEX = -100


@dataclass
class PadCollator:
    """Right-pads a batch to its longest row (rounded up to `pad_to_multiple_of`): no row is padded to max_length."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        n = len(features)
        input_ids = torch.full((n, longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, longest), dtype=torch.long)
        labels = torch.full((n, longest), IGNORE_INDEX, dtype=torch.long)
        for i, f in enumerate(features):
            k = len(f["input_ids"])
            input_ids[i, :k] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            attention_mask[i, :k] = 1
            labels[i, :k] = torch.as_tensor(f["labels"], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class PackingCollator:
    """Padding-free packing: the batch becomes one row, position ids restart at 0 for every sequence.

    transformers' attention (SDPA/eager masks built from position ids, FlashAttention varlen) keeps each
    sequence attending only to itself; the first label of every sequence is masked so no token is predicted
    across a boundary.
    """

    def __init__(self) -> None:
        from transformers import DataCollatorWithFlattening

        self._flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self._flatten([{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features])


def label_loss_sums(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row: (sum of next-token cross-entropy over label tokens, number of label tokens), shape [B, 2].

    Summed per row, not averaged per batch, so the eval loss is a token-weighted mean whatever the batch
    size or the number of processes. Rows are upcast to float32 one at a time to bound memory.
    """
    shift_logits = logits[:, :-1, :]
    shift_labels = labels[:, 1:]
    out = torch.zeros((logits.shape[0], 2), dtype=torch.float32, device=logits.device)
    for i in range(logits.shape[0]):
        out[i, 0] = torch.nn.functional.cross_entropy(
            shift_logits[i].float(), shift_labels[i], ignore_index=IGNORE_INDEX, reduction="sum"
        )
        out[i, 1] = (shift_labels[i] != IGNORE_INDEX).sum()
    return out
