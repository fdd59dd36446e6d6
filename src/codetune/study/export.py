"""A study's checkpoint out of the study: its adapter in PEFT's layout (PeftModel.from_pretrained, vLLM's
LoRARequest), or with `merged` the base model with the adapter merged in (AutoModelForCausalLM.from_pretrained,
vLLM), each with its model card (codetune.study.model_card).

The checkpoint is the one the study's records name: `best` is the selection record's, a step is found among
the run's checkpoints. A checkpoint whose folder is gone, or whose adapter is no longer the one training wrote
or the one its evaluation scored, is refused in one line: the card's numbers would describe another model.
The merge runs in float32 on the CPU (as exact as the weights allow) and is saved in the dtype the study
evaluated the checkpoint in; its generation_config.json holds the study's decoding settings.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from codetune import layout
from codetune.errors import CodetuneError
from codetune.files import atomic_dir
from codetune.fingerprint import adapter_sha256
from codetune.records import RunSummary
from codetune.study.model_card import ModelCardFacts, card_facts, write_model_card
from codetune.study.report.inputs import ReportInputs


@dataclass
class ExportSource:
    """The checkpoint to export and the study facts its card states."""

    study_dir: Path
    run: str
    checkpoint: Path
    facts: ModelCardFacts


def _checkpoint_by_step(rdir: Path, run: str, which: str) -> Path:
    try:
        step = int(which)
    except ValueError:
        raise CodetuneError(f"--checkpoint {which!r}: expected `best` or a step number") from None
    steps = [
        (k[0], ck) for ck in layout.list_checkpoints(rdir) if (k := layout.parse_checkpoint_name(ck.name))
    ]
    for s, ck in steps:
        if s == step:
            return ck
    have = ", ".join(str(s) for s, _ in steps)
    raise CodetuneError(
        f"run {run}: no checkpoint at step {step} in {layout.checkpoints_dir(rdir)} (steps: {have or 'none'})"
    )


def _check_adapter(inp: ReportInputs, run: str, ck: Path) -> None:
    """The adapter is there and is the one training wrote and the evaluation scored."""
    if not all(p.is_file() for p in layout.adapter_paths(ck)):
        raise CodetuneError(
            f"run {run}: checkpoint {ck.name} is not on disk as training left it (no "
            f"{' or '.join(layout.ADAPTER_FILES)} in {ck}): it cannot be exported"
        )
    now = adapter_sha256(ck)
    summary = RunSummary.read(layout.run_summary_path(layout.run_dir(inp.dir, run)))
    trained = summary.checkpoint_sha256.get(ck.name) if summary else None
    rec = inp.study.records.get(("eval", layout.eval_key(run, ck.name)))
    scored = ((rec.inputs.get("checkpoint") or {}).get("sha256")) if rec is not None else None
    if trained is not None and now != trained:
        why = "changed since training (its adapter hash differs from the run summary's)"
    elif scored is not None and now != scored:
        why = "changed since it was evaluated (its adapter hash differs from the evaluation's record)"
    else:
        return
    raise CodetuneError(f"run {run}: checkpoint {ck.name} {why}: it cannot be exported")


def export_source(study_dir: str | Path, run: str, which: str = "best") -> ExportSource:
    """The checkpoint `which` (best, or a step) of `run`, checked, with its card's facts."""
    inp = ReportInputs(study_dir)
    if inp.cfg is None:
        raise CodetuneError(
            f"{layout.config_path(inp.dir)}: the study's config is missing or invalid ({inp.study.config_error})"
        )
    if run not in inp.cfg.runs:
        raise CodetuneError(
            f"run {run!r} is not a run of {layout.config_path(inp.dir)} (runs: {', '.join(inp.cfg.runs)})"
        )
    rdir = layout.run_dir(inp.dir, run)
    if which == "best":
        rs = inp.sel.runs.get(run) if inp.sel is not None else None
        if rs is None or rs.best is None or rs.best.checkpoint is None:
            raise CodetuneError(
                f"run {run}: no selected checkpoint in {layout.selection_path(inp.dir)} (run `codetune select "
                f"{inp.dir}` first, or pass --checkpoint STEP)"
            )
        ck = layout.checkpoints_dir(rdir) / rs.best.checkpoint
        if not ck.is_dir():
            raise CodetuneError(
                f"run {run}: the selected checkpoint {ck.name} is not on disk ({ck}): it cannot be exported"
            )
    else:
        ck = _checkpoint_by_step(rdir, run, which)
    _check_adapter(inp, run, ck)
    return ExportSource(inp.dir, run, ck, card_facts(inp, run, ck.name, selected=which == "best"))


def export_checkpoint(
    study_dir: str | Path, run: str, out: str | Path, *, which: str = "best", merged: bool = False
) -> Path:
    """Write the export folder `out` (refused when it exists and is not empty); returns it."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CodetuneError(
            f"--out {out} exists and is not an empty folder: choose another (nothing written)"
        )
    src = export_source(study_dir, run, which)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:  # an interrupted export leaves no half folder under the name
        if merged:
            _write_merged(src, tmp)
        else:
            for p in layout.adapter_paths(src.checkpoint):
                shutil.copy2(p, tmp / p.name)
        write_model_card(tmp, src.facts, merged=merged)
    return out


def generation_settings(facts: ModelCardFacts, base_config) -> object:
    """The base model's generation config with the study's decoding (greedy or its temperature/top_p and
    token budget): what transformers' generate() and vLLM take as defaults from the folder."""
    import copy

    gen = copy.deepcopy(base_config)
    g = facts.generation
    gen.max_new_tokens = g["max_new_tokens"]
    if g["temperature"] > 0:
        gen.do_sample, gen.temperature, gen.top_p = True, g["temperature"], g["top_p"]
    else:
        # Greedy: sampling parameters left unset (set, transformers flags them as ignored).
        gen.do_sample, gen.temperature, gen.top_p, gen.top_k = False, None, None, None
    return gen


def _write_merged(src: ExportSource, tmp: Path) -> None:
    import torch
    from peft import PeftModel

    from codetune.models import load_model, load_tokenizer

    cfg = src.facts.cfg
    model = load_model(cfg.model.model_copy(update={"device": "cpu", "dtype": "float32"}))
    tokenizer = load_tokenizer(cfg.model)
    merged = PeftModel.from_pretrained(model, str(src.checkpoint), is_trainable=False).merge_and_unload()
    merged.to(getattr(torch, src.facts.dtype))
    merged.generation_config = generation_settings(src.facts, merged.generation_config)
    merged.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
