"""The same prompts through several checkpoints with the same decoding; answers side by side, with metrics.

All checkpoints are LoRA adapters attached to ONE base model (loaded once) and switched per model; decoding
is greedy, so a difference between answers is a difference between the adapters. Each answer's behaviour
metrics come from codetune.study.behaviour (computed from the text, not judged).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from codetune.errors import CodetuneError
from codetune.files import write_json_atomic
from codetune.models import adapter_base_model
from codetune.study.behaviour import aggregate_metrics, answer_metrics

if TYPE_CHECKING:
    from codetune.config import ModelConfig

ANSWERS_FILE = "answers.json"
METRICS_FILE = "metrics.json"
BASE_LABEL = "base"


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
    path = Path(path)
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


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
    max_new_tokens: int = 512,
    include_base: bool = False,
    system_prompt: str | None = None,
    model_cfg: ModelConfig | None = None,
    batch_size: int = 4,
) -> dict:
    """Answers of every checkpoint (and optionally the bare base model) to every prompt, greedy decoding.

    `model_cfg` loads the base model (a study passes its own); by default it is read from the first
    checkpoint's adapter_config.json. Returns the record save_compare writes.
    """
    from codetune.bench.generate import generate_chat
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
    models = []
    for label, adapter, ck in entries:
        t0 = time.perf_counter()
        with use_adapter(model, adapter):
            answers = generate_chat(
                model,
                tokenizer,
                conversations,
                max_new_tokens=max_new_tokens,
                temperature=0.0,
                batch_size=batch_size,
                desc=f"compare {label}",
            )
        texts = [a[0] if a else "" for a in answers]
        metrics = [answer_metrics(t) for t in texts]
        models.append(
            {
                "name": label,
                "checkpoint": str(ck) if ck else None,
                "answers": texts,
                "metrics": [m.to_dict() for m in metrics],
                "aggregate": aggregate_metrics(metrics),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    return {
        "base_model": cfg.source,
        "prompts": prompts,
        "system_prompt": system_prompt,
        "decoding": {"temperature": 0.0, "max_new_tokens": max_new_tokens},
        "models": models,
    }


def save_compare(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """answers.json (prompts, decoding, each model's answers) and metrics.json (per answer and aggregated)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    answers = {k: v for k, v in result.items() if k != "models"}
    answers["models"] = [
        {k: m[k] for k in ("name", "checkpoint", "answers", "seconds")} for m in result["models"]
    ]
    metrics = {
        "prompts": result["prompts"],
        "models": [
            {k: m[k] for k in ("name", "checkpoint", "metrics", "aggregate")} for m in result["models"]
        ],
    }
    paths = []
    for name, data in ((ANSWERS_FILE, answers), (METRICS_FILE, metrics)):
        write_json_atomic(out / name, data)
        paths.append(out / name)
    return paths[0], paths[1]


def load_compare(folder: str | Path) -> dict | None:
    """The record saved by save_compare, models' answers and metrics merged; None when absent."""
    folder = Path(folder)
    a, m = folder / ANSWERS_FILE, folder / METRICS_FILE
    if not a.is_file():
        return None
    try:
        answers = json.loads(a.read_text(encoding="utf-8"))
        metrics = json.loads(m.read_text(encoding="utf-8")) if m.is_file() else {"models": []}
    except json.JSONDecodeError as e:
        raise CodetuneError(f"{folder}: compare files are not valid JSON ({e})") from None
    by_name = {mm["name"]: mm for mm in metrics.get("models", [])}
    for model in answers.get("models", []):
        mm = by_name.get(model["name"])
        if mm is None:  # metrics.json missing or stale: recompute from the saved answers
            ms = [answer_metrics(t) for t in model["answers"]]
            mm = {"metrics": [x.to_dict() for x in ms], "aggregate": aggregate_metrics(ms)}
        model["metrics"], model["aggregate"] = mm["metrics"], mm["aggregate"]
    return answers


METRIC_ROWS = [
    (
        "explanation before code",
        lambda m: (
            "no code block" if not m["code_blocks"] else "yes" if m["explanation_before_code"] else "no"
        ),
    ),
    ("explanation length (chars)", lambda m: str(m["explanation_chars"])),
    ("markdown headers", lambda m: str(m["headers"])),
    ("code blocks", lambda m: str(m["code_blocks"]) + (" (cut off)" if m["unclosed_code_block"] else "")),
    ("libraries imported", lambda m: ", ".join(m["libraries"]) or "none"),
    ("functions defined", lambda m: ", ".join(m["functions"]) or "none"),
    ("answer length (chars)", lambda m: str(m["answer_chars"])),
]

AGGREGATE_ROWS = [
    ("answers", lambda a: str(a["answers"])),
    ("explanation before code", lambda a: f"{a['explanation_before_code']} of {a['answers']}"),
    ("mean explanation length (chars)", lambda a: f"{a['mean_explanation_chars']:g}"),
    ("markdown headers (total)", lambda a: str(a["headers"])),
    ("code blocks (total)", lambda a: str(a["code_blocks"])),
    ("functions defined (total)", lambda a: str(a["functions"])),
    (
        "libraries (answers importing)",
        lambda a: ", ".join(f"{k} ({v})" for k, v in a["libraries"].items()) or "none",
    ),
    ("mean answer length (chars)", lambda a: f"{a['mean_answer_chars']:g}"),
]


def print_compare(result: dict, console) -> None:
    """Per prompt: the answers side by side (rich Columns), then their metrics; then the aggregate table."""
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    models = result["models"]
    width = max(30, console.width // max(1, len(models)) - 2)
    for i, prompt in enumerate(result["prompts"]):
        console.print(Rule(f"prompt {i + 1}"))
        console.print(Text(prompt, style="bold"))
        panels = [Panel(Text(m["answers"][i]), title=m["name"], width=width) for m in models]
        console.print(Columns(panels, equal=True))
        table = Table(show_header=True)
        table.add_column("metric")
        for m in models:
            table.add_column(m["name"])
        for label, fn in METRIC_ROWS:
            table.add_row(label, *(fn(m["metrics"][i]) for m in models))
        console.print(table)
    table = Table(title="per model, all prompts", title_justify="left")
    table.add_column("metric")
    for m in models:
        table.add_column(m["name"])
    for label, fn in AGGREGATE_ROWS:
        table.add_row(label, *(fn(m["aggregate"]) for m in models))
    console.print(table)
