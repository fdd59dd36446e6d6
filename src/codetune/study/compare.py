"""The same prompts through several checkpoints with the same decoding; answers side by side, with metrics.

All checkpoints are LoRA adapters attached to ONE base model (loaded once) and switched per model; decoding
is greedy, so a difference between answers is a difference between the adapters. Each answer's behaviour
metrics come from codetune.study.behaviour (computed from the text, not judged).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codetune import layout
from codetune.config import DEFAULT_COMPARE_MAX_NEW_TOKENS
from codetune.errors import CodetuneError
from codetune.models import adapter_base_model
from codetune.records import (
    AggregateMetrics,
    AnswerMetrics,
    CompareAnswers,
    CompareDecoding,
    CompareMetrics,
    CompareModel,
    CompareModelMetrics,
)
from codetune.study.behaviour import aggregate_metrics, answer_metrics

if TYPE_CHECKING:
    from codetune.config import ModelConfig

BASE_LABEL = layout.BASE_MODEL_NAME
COMPARE_VERSION = 1  # bump when the comparison's answers or metrics change, so studies compare afresh


@dataclass
class CompareResult:
    """What run_compare returns and save_compare writes: the answers and their metrics."""

    answers: CompareAnswers
    metrics: CompareMetrics

    def model(self, i: int) -> tuple[CompareModel, CompareModelMetrics]:
        return self.answers.models[i], self.metrics.models[i]


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per line of a text file; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise CodetuneError(f"prompts file {path} does not exist")
    prompts = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not prompts:
        raise CodetuneError(f"prompts file {path} has no prompts (one per line)")
    return prompts


def checkpoint_label(path: Path) -> str:
    """`run/checkpoint-step-S-epoch-E` for a study checkpoint, else the folder name."""
    run = layout.run_of_checkpoint(Path(path))
    return f"{run}/{Path(path).name}" if run else Path(path).name


def check_checkpoints(checkpoints: list[Path]) -> tuple[str, list[str]]:
    """(the base model they share, a unique label per checkpoint); errors name the checkpoint at fault."""
    if not checkpoints:
        raise CodetuneError("compare needs at least one --checkpoint")
    bases = {}
    for ck in checkpoints:
        if not Path(ck).exists():
            raise CodetuneError(f"checkpoint {ck} does not exist")
        bases[str(ck)] = adapter_base_model(ck)
    if len(set(bases.values())) > 1:
        detail = "; ".join(f"{ck}: {b}" for ck, b in bases.items())
        raise CodetuneError(
            f"checkpoints were trained on different base models, compare them separately ({detail})"
        )
    labels: list[str] = []
    for ck in checkpoints:
        label = checkpoint_label(ck)
        while label in labels or label == BASE_LABEL:
            label += "'"
        labels.append(label)
    return next(iter(bases.values())), labels


def run_compare(
    checkpoints: list[Path],
    prompts: list[str],
    *,
    max_new_tokens: int = DEFAULT_COMPARE_MAX_NEW_TOKENS,
    include_base: bool = False,
    system_prompt: str | None = None,
    model_cfg: ModelConfig | None = None,
    batch_size: int = 4,
) -> CompareResult:
    """Answers of every checkpoint (and optionally the bare base model) to every prompt, greedy decoding.

    `model_cfg` loads the base model (a study passes its own); by default it is read from the first
    checkpoint's adapter config. Returns the record save_compare writes.
    """
    from codetune.bench import generate
    from codetune.config import ModelConfig
    from codetune.models import attach_adapters, load_model_and_tokenizer, use_adapter

    if not prompts:
        raise CodetuneError("compare needs at least one prompt")
    checkpoints = [Path(c) for c in checkpoints]
    base_source, labels = check_checkpoints(checkpoints)
    cfg = model_cfg or ModelConfig(source=base_source)
    model, tokenizer = load_model_and_tokenizer(cfg)
    # PEFT adapter names become module keys, so they are plain ids; labels are for people.
    adapter_names = {f"m{i}": ck for i, ck in enumerate(checkpoints)}
    model = attach_adapters(model, adapter_names)
    conversations = [
        ([{"role": "system", "content": system_prompt}] if system_prompt else [])
        + [{"role": "user", "content": p}]
        for p in prompts
    ]
    entries = ([(BASE_LABEL, None, None)] if include_base else []) + [
        (label, name, ck) for label, (name, ck) in zip(labels, adapter_names.items(), strict=True)
    ]
    decoding = generate.Decoding(max_new_tokens=max_new_tokens)  # greedy
    models, metrics = [], []
    for label, adapter, ck in entries:
        t0 = time.perf_counter()
        with use_adapter(model, adapter):
            answers = generate.generate_chat(
                model,
                tokenizer,
                conversations,
                decoding,
                batch_size=batch_size,
                desc=f"compare {label}",
            )
        texts = [a[0] if a else "" for a in answers]
        per_answer = [answer_metrics(t) for t in texts]
        checkpoint = str(ck) if ck else None
        models.append(
            CompareModel(
                name=label, checkpoint=checkpoint, answers=texts, seconds=round(time.perf_counter() - t0, 1)
            )
        )
        metrics.append(
            CompareModelMetrics(
                name=label, checkpoint=checkpoint, metrics=per_answer, aggregate=aggregate_metrics(per_answer)
            )
        )
    return CompareResult(
        CompareAnswers(
            base_model=cfg.source,
            prompts=prompts,
            system_prompt=system_prompt,
            decoding=CompareDecoding(
                temperature=decoding.temperature, max_new_tokens=decoding.max_new_tokens
            ),
            models=models,
        ),
        CompareMetrics(prompts=prompts, models=metrics),
    )


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse a standalone comparison into a study's own compare folder: that one is the study's compare
    stage's output, made from its selection and recorded; overwriting it would give the report answers no
    record stands for."""
    out = Path(out_dir).resolve()
    study = out.parent
    if out == layout.compare_dir(study).resolve() and layout.stages_dir(study).is_dir():
        raise CodetuneError(
            f"{out} is the comparison of the study in {study} (its compare stage writes it); rerun "
            "`codetune study` to redo it, or pass --out with another folder (nothing written)"
        )


def save_compare(result: CompareResult, out_dir: str | Path) -> tuple[Path, Path]:
    """The answers file (prompts, decoding, each model's answers) and the metrics file (per answer and
    aggregated) in `out_dir`."""
    out = Path(out_dir)
    return (
        result.answers.write(layout.compare_answers_path(out)),
        result.metrics.write(layout.compare_metrics_path(out)),
    )


def load_compare(folder: str | Path) -> CompareResult | None:
    """The records saved by save_compare; None when the comparison has not been made."""
    folder = Path(folder)
    answers = CompareAnswers.read(layout.compare_answers_path(folder))
    if answers is None:
        return None
    metrics = CompareMetrics.read(layout.compare_metrics_path(folder))
    if metrics is None or [m.name for m in metrics.models] != [m.name for m in answers.models]:
        raise CodetuneError(
            f"{layout.compare_metrics_path(folder)}: missing or not of the models in {layout.COMPARE_ANSWERS_FILE}"
        )
    return CompareResult(answers, metrics)


# How the report and the terminal show the metrics: (row label, value of one answer / one model).
METRIC_ROWS: list[tuple[str, Callable[[AnswerMetrics], str]]] = [
    (
        "explanation before code",
        lambda m: "no code block" if not m.code_blocks else "yes" if m.explanation_before_code else "no",
    ),
    ("explanation length (chars)", lambda m: str(m.explanation_chars)),
    ("markdown headers", lambda m: str(m.headers)),
    ("code blocks", lambda m: str(m.code_blocks) + (" (cut off)" if m.unclosed_code_block else "")),
    ("libraries imported", lambda m: ", ".join(m.libraries) or "none"),
    ("functions defined", lambda m: ", ".join(m.functions) or "none"),
    ("answer length (chars)", lambda m: str(m.answer_chars)),
]

AGGREGATE_ROWS: list[tuple[str, Callable[[AggregateMetrics], str]]] = [
    ("answers", lambda a: str(a.answers)),
    ("explanation before code", lambda a: f"{a.explanation_before_code} of {a.answers}"),
    ("mean explanation length (chars)", lambda a: f"{a.mean_explanation_chars:g}"),
    ("markdown headers (total)", lambda a: str(a.headers)),
    ("code blocks (total)", lambda a: str(a.code_blocks)),
    ("functions defined (total)", lambda a: str(a.functions)),
    (
        "libraries (answers importing)",
        lambda a: ", ".join(f"{k} ({v})" for k, v in a.libraries.items()) or "none",
    ),
    ("mean answer length (chars)", lambda a: f"{a.mean_answer_chars:g}"),
]
