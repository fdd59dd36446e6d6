"""The study's results leave the study (issue 30): `codetune export` of a checkpoint (adapter and merged) with
its model card, and `codetune prune`, on test_pipeline's tiny study (the tiny random Llama, 2 checkpoints)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from codetune import layout
from codetune.cli import app
from codetune.config import load_config
from codetune.data.builtin import builtin_benchmark_rows
from codetune.errors import CodetuneError
from codetune.records import Selection
from codetune.study.export import export_checkpoint
from codetune.study.pipeline import dry_run_status, run_study
from codetune.study.prune import prune_study
from codetune.study.report import write_report
from helpers import embedded_study, study_doc


@pytest.fixture(scope="module")
def base_study(tmp_path_factory, tiny_model_dir) -> Path:
    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("export-study")
    rows = builtin_benchmark_rows(seed=42)[:3]
    (folder / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    doc = study_doc(tiny_model_dir)
    doc["training"]["learning_rate"] = 5e-2  # the adapter must move the logits well past the tolerance
    (folder / "study.yaml").write_text(yaml.safe_dump(doc))
    run_study(load_config(folder / "study.yaml"))
    return folder


@pytest.fixture
def study(base_study, tmp_path) -> Path:
    shutil.copytree(base_study, tmp_path / "study")
    return tmp_path / "study" / "out"


def _best(out: Path) -> tuple[str, Path]:
    row = Selection.read(layout.selection_path(out)).runs["deep"].best
    return row.checkpoint, layout.checkpoints_dir(layout.run_dir(out, "deep")) / row.checkpoint


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_export_loads_in_peft_and_its_card_parses_with_the_selection_s_numbers(study, tiny_model_dir):
    from huggingface_hub import ModelCard
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = study.parent / "export"
    res = CliRunner().invoke(app, ["export", str(study), "--run", "deep", "--out", str(out)])
    assert res.exit_code == 0, res.output
    name, ck = _best(study)
    assert sorted(p.name for p in out.iterdir()) == sorted([*layout.ADAPTER_FILES, layout.MODEL_CARD_FILE])
    for p in layout.adapter_paths(ck):
        assert (out / p.name).read_bytes() == p.read_bytes()
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out))

    sel = Selection.read(layout.selection_path(study))
    row = sel.runs["deep"].best
    card = ModelCard.load(layout.model_card_path(out))
    (result,) = card.data.eval_results
    assert (result.metric_type, result.metric_value) == ("pass@1", round(100 * row.pass1, 1))
    assert card.data.library_name == "peft"
    text = card.text
    assert f"{row.solved}/{row.total} problems solved" in text
    lo, hi = row.wilson
    assert f"{100 * lo:.1f}–{100 * hi:.1f}%" in text
    assert "Caveat: the checkpoint was chosen on the same problems" in text  # method `all`
    metrics = [json.loads(line) for line in layout.metrics_path(layout.run_dir(study, "deep")).open()]
    at = next(m for m in metrics if m["step"] == row.step)
    assert f"validation loss {at['val_loss']:.4f}, test loss {at['test_loss']:.4f}" in text
    assert "McNemar" in text and "learning rate 0.05" in text


def test_merged_export_gives_base_plus_adapter_logits_and_the_study_s_decoding(study, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = study.parent / "merged"
    export_checkpoint(study, "deep", out, which="2", merged=True)
    ck = layout.checkpoints_dir(layout.run_dir(study, "deep")) / "checkpoint-step-2-epoch-0"
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids = torch.tensor([[1, 5, 9, 42, 7, 3, 11, 2]])
    plain = _logits(base, ids)
    with_adapter = _logits(PeftModel.from_pretrained(base, str(ck)).eval(), ids)
    got = _logits(merged, ids)
    assert (with_adapter - plain).abs().max() > 1e-3  # the adapter changes the model, well past the tolerance
    torch.testing.assert_close(got, with_adapter, rtol=0, atol=1e-4)
    gen = merged.generation_config
    assert (gen.max_new_tokens, gen.do_sample) == (8, False)  # study_doc's decoding: greedy, 8 tokens
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template  # a chat model stays one
    card = (out / layout.MODEL_CARD_FILE).read_text()
    assert "library_name: transformers" in card and "chosen by step, not the selected one" in card


def test_exporting_a_checkpoint_gone_or_changed_is_one_line(study):
    name, ck = _best(study)
    weights = ck / layout.ADAPTER_WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(CodetuneError, match=f"checkpoint {name} changed since training"):
        export_checkpoint(study, "deep", study.parent / "e1")
    shutil.rmtree(ck)
    res = CliRunner().invoke(app, ["export", str(study), "--run", "deep", "--out", str(study.parent / "e2")])
    assert res.exit_code != 0 and isinstance(res.exception, CodetuneError)
    assert f"the selected checkpoint {name} is not on disk" in str(res.exception)
    assert "\n" not in str(res.exception)
    assert not (study.parent / "e1").exists() and not (study.parent / "e2").exists()
    with pytest.raises(CodetuneError, match="no checkpoint at step 7"):
        export_checkpoint(study, "deep", study.parent / "e3", which="7")


def _without_build_time(text: str) -> str:
    return re.sub(r"Built \d{4}-\d\d-\d\d \d\d:\d\d UTC", "Built <time>", text)


def _report(out: Path) -> tuple[str, str, dict[str, bytes]]:
    html, md = write_report(out)
    assets = {p.name: p.read_bytes() for p in layout.report_assets_dir(out).iterdir()}
    return _without_build_time(html.read_text()), _without_build_time(md.read_text()), assets


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_prune_keeps_adapters_records_and_the_report_and_says_what_it_freed(study):
    before = _report(study)
    cfg = load_config(study.parent / "study.yaml")

    def states() -> dict:
        return {(stage.kind.name, stage.key): st.state for stage, st in dry_run_status(cfg).stages}

    # every stage is done but the report, which the standalone `codetune report` above rewrote (a new build time)
    states_before = states()
    runs = layout.runs_dir(study)
    size0 = _size(runs)
    ckpts = layout.list_checkpoints(layout.run_dir(study, "deep"))
    assert (ckpts[0] / "optimizer.pt").is_file()  # Trainer's resume state is there to prune
    res = CliRunner().invoke(app, ["prune", str(study)])
    assert res.exit_code == 0, res.output
    freed = size0 - _size(runs)
    assert f"freed {freed / 2**20:,.1f} MiB" in res.output and freed > 0
    for ck in ckpts:
        assert {p.name for p in ck.iterdir()} <= {*layout.ADAPTER_FILES, layout.MODEL_CARD_FILE}
    assert states() == states_before  # nothing more to redo
    assert {s for (kind, _), s in states_before.items() if kind != "report"} == {"done"}
    assert _report(study) == before  # byte-identical apart from its build time


def test_prune_keep_resume_last_keeps_what_continuing_needs(study):
    ckpts = layout.list_checkpoints(layout.run_dir(study, "deep"))
    last_files = {p.name for p in ckpts[-1].iterdir()}
    res = prune_study(study, keep_resume="last")
    assert res.kept_resume == [f"deep/{ckpts[-1].name} (--keep-resume last)"]
    assert {p.name for p in ckpts[-1].iterdir()} == last_files
    assert not (ckpts[0] / "optimizer.pt").exists()


def test_prune_keeps_the_resume_state_of_an_unfinished_run(study):
    layout.run_summary_path(layout.run_dir(study, "deep")).unlink()  # training unfinished
    ckpts = layout.list_checkpoints(layout.run_dir(study, "deep"))
    res = prune_study(study)
    assert res.kept_resume == [f"deep/{ckpts[-1].name} (training unfinished)"]
    assert (ckpts[-1] / "optimizer.pt").is_file() and not (ckpts[0] / "optimizer.pt").exists()


@pytest.mark.slow
def test_the_embedded_model_exports_merged_and_as_an_adapter(smollm2_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    study = embedded_study(tmp_path)
    name, ck = _best(study)
    merged_dir, adapter_dir = tmp_path / "merged", tmp_path / "adapter"
    export_checkpoint(study, "deep", merged_dir, merged=True)
    export_checkpoint(study, "deep", adapter_dir)
    ids = torch.tensor([[1, 504, 3458, 28, 198, 2]])
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    plain = _logits(base, ids)
    with_adapter = _logits(PeftModel.from_pretrained(base, str(adapter_dir)).eval(), ids)
    got = _logits(AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32), ids)
    assert (with_adapter - plain).abs().max() > 1e-3
    torch.testing.assert_close(got, with_adapter, rtol=0, atol=1e-4)
    card = layout.model_card_path(merged_dir).read_text()
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in card and "base_model:" not in card  # not the hub's weights
