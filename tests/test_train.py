"""The LoRA run on the tiny random model: metrics rows, checkpoints, resume after kill -9, bad input."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codetune.config import load_config, parse_config
from codetune.errors import CodetuneError
from codetune.layout import METRICS_FILE, list_checkpoints, run_dir, run_summary_path, stage_record_path
from codetune.records import StageRecord
from codetune.study.plan import expected_checkpoints
from codetune.train.summary import read_metrics
from helpers import prepare_study_run, write_config, write_naholav_jsonl

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
ROW_KEYS = [
    "step",
    "epoch",
    "train_loss",
    "val_loss",
    "test_loss",
    "learning_rate",
    "tokens_seen",
    "wall_time",
]


@pytest.fixture(scope="module")
def six_steps(tmp_path_factory, tiny_model_dir):
    """One run, eval_every=2, save_every=2, max_steps=6, shared by the read-only tests below."""
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path_factory.mktemp("six"), tiny_model_dir))
    return cfg, train_run(cfg, "a")


def test_metrics_rows_at_exactly_the_eval_steps(six_steps):
    _, rdir = six_steps
    lines = (rdir / METRICS_FILE).read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["step"] for r in rows] == [2, 4, 6]
    for r in rows:
        assert list(r) == ROW_KEYS
        for key in ("train_loss", "val_loss", "test_loss", "learning_rate", "wall_time"):
            assert math.isfinite(r[key]), (key, r)
        assert 0 < r["epoch"] < 1
    assert rows[0]["tokens_seen"] < rows[1]["tokens_seen"] < rows[2]["tokens_seen"]
    # A random model's loss is about ln(vocab); training at lr 1e-3 must lower it.
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_checkpoints_are_peft_adapters_with_resume_state(six_steps, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from codetune.models import adapter_base_model

    _, rdir = six_steps
    ckpts = list_checkpoints(rdir)
    assert [p.name for p in ckpts] == expected_checkpoints(6, 7, 2)
    assert [p.name for p in ckpts] == [f"checkpoint-step-{s}-epoch-0" for s in (2, 4, 6)]
    assert sorted(p.name for p in (rdir / "checkpoints").iterdir()) == sorted(p.name for p in ckpts)
    for p in ckpts:
        for f in ("adapter_config.json", "adapter_model.safetensors", "optimizer.pt", "scheduler.pt"):
            assert (p / f).is_file(), (p, f)
        assert (p / "rng_state.pth").is_file() and (p / "trainer_state.json").is_file()
    assert adapter_base_model(ckpts[-1]) == str(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, ckpts[-1])
    lora_b = [v for k, v in model.state_dict().items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # trained, not the zero init


def test_summary_plot_and_tensorboard(six_steps):
    _, rdir = six_steps
    summary = json.loads(run_summary_path(rdir).read_text())
    rows = read_metrics(rdir / METRICS_FILE)
    best_val = min(rows, key=lambda r: r.val_loss)
    assert summary["best_val"] == {"step": best_val.step, "loss": best_val.val_loss}
    assert summary["best_test"]["loss"] == min(r.test_loss for r in rows)
    assert summary["final"]["step"] == 6 and summary["final"]["val_loss"] == rows[-1].val_loss
    # Overfitting is 3 rises in a row after the minimum: 3 evals cannot hold that.
    assert summary["overfitting_step"] is None and summary["overfit_patience"] == 3
    assert summary["wall_time"] > 0
    assert (rdir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((rdir / "tb").rglob("events.out.tfevents.*"))
    cfg, _ = six_steps
    record = StageRecord.read(stage_record_path(cfg.output_path, "train", "a"))
    assert record.finished and record.config["training"]["learning_rate"] == 1e-3
    assert record.config["runs"] == {"a": cfg.runs["a"].model_dump(mode="json")}
    assert (
        set(record.inputs) == {"dataset", "model", "resolved", "version"}
        and len(record.inputs["dataset"]["sha256"]) == 64
    )
    assert record.inputs["resolved"]["model"] == {"device": "cpu", "dtype": "float32"}


def test_complete_run_is_skipped_and_other_config_is_refused(six_steps):
    from codetune.train.run import train_run

    cfg, rdir = six_steps
    before = (rdir / METRICS_FILE).read_text()
    assert train_run(cfg, "a") == rdir  # complete: returns at once
    changed = cfg.model_copy(deep=True)
    changed._path = cfg.path
    changed.training.learning_rate = 5e-4
    with pytest.raises(CodetuneError, match=r"different config.*training\.learning_rate.*nothing deleted"):
        train_run(changed, "a")
    with pytest.raises(CodetuneError, match="different config"):
        train_run(changed, "a", resume=True)
    assert (rdir / METRICS_FILE).read_text() == before and len(list_checkpoints(rdir)) == 3


def test_checkpoint_epochs_follow_the_plan(tmp_path, tiny_model_dir):
    """Epoch-based run over two epochs: names match study.plan.expected_checkpoints (zero-based epoch)."""
    from codetune.train.run import train_run

    path = write_config(tmp_path, tiny_model_dir, max_steps=None, epochs=2, eval_every=7, save_every=5)
    rdir = train_run(load_config(path), "a")
    names = [p.name for p in list_checkpoints(rdir)]
    assert names == expected_checkpoints(14, 7, 5)
    assert names == ["checkpoint-step-5-epoch-0", "checkpoint-step-10-epoch-1", "checkpoint-step-14-epoch-1"]
    assert [r.step for r in read_metrics(rdir / METRICS_FILE)] == [7, 14]


# A child process that trains slowly enough to be killed mid-run (the sleep only paces the test).
_SLOW_TRAIN = """
import sys, time
import transformers
_step = transformers.Trainer.training_step
def slow(self, *a, **k):
    time.sleep(0.25)
    return _step(self, *a, **k)
transformers.Trainer.training_step = slow
sys.argv = ["codetune", "train", sys.argv[1], "--run", "a"]
from codetune.cli import main
main()
"""


@pytest.mark.slow
def test_resume_after_kill_reproduces_the_uninterrupted_run(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    # save_every 3 with eval_every 2: the checkpoint sits between evals, so the interval's train losses
    # must travel in the checkpoint; 10 steps of 7 per epoch cross an epoch boundary.
    settings = {"max_steps": 10, "eval_every": 2, "save_every": 3}
    straight = train_run(load_config(write_config(tmp_path / "straight", tiny_model_dir, **settings)), "a")
    expected = read_metrics(straight / METRICS_FILE)

    cfg_path = write_config(tmp_path / "killed", tiny_model_dir, **settings)
    rdir = run_dir(tmp_path / "killed" / "out", "a")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_TRAIN, str(cfg_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 180
    while not list_checkpoints(rdir) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert list_checkpoints(rdir) and not run_summary_path(rdir).exists()

    cfg = load_config(cfg_path)
    with pytest.raises(CodetuneError, match="unfinished run.*--resume.*nothing deleted"):
        train_run(cfg, "a")
    train_run(cfg, "a", resume=True)
    got = read_metrics(rdir / METRICS_FILE)
    assert [r.step for r in got] == [r.step for r in expected] == [2, 4, 6, 8, 10]
    for g, e in zip(got, expected, strict=True):
        assert g.tokens_seen == e.tokens_seen and g.epoch == e.epoch
        for key in ("train_loss", "val_loss", "test_loss", "learning_rate"):
            assert getattr(g, key) == pytest.approx(getattr(e, key), rel=1e-4, abs=1e-6), (g.step, key)
    assert [p.name for p in list_checkpoints(rdir)] == [p.name for p in list_checkpoints(straight)]
    assert {p.name for p in (rdir / "checkpoints").iterdir()} == {p.name for p in list_checkpoints(rdir)}


def test_resume_runs_only_the_steps_after_its_checkpoint(tmp_path, tiny_model_dir, training_steps):
    """Interrupted during step 5 (checkpoint at step 4): --resume runs steps 5 and 6 only, not 1-4 again, and
    ends where an uninterrupted run ends."""
    from codetune.train.run import train_run

    straight = train_run(load_config(write_config(tmp_path / "straight", tiny_model_dir)), "a")
    assert training_steps.started == [0, 1, 2, 3, 4, 5]
    cfg = load_config(write_config(tmp_path / "cut", tiny_model_dir))
    training_steps.interrupt_at(5)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, "a")
    rdir = run_dir(cfg.output_path, "a")
    assert [p.name for p in list_checkpoints(rdir)][-1] == "checkpoint-step-4-epoch-0"
    training_steps.interrupt_at(None)
    train_run(cfg, "a", resume=True)
    assert training_steps.started == [4, 5]
    got, expected = read_metrics(rdir / METRICS_FILE), read_metrics(straight / METRICS_FILE)
    assert [r.step for r in got] == [2, 4, 6]
    assert got[-1].val_loss == pytest.approx(expected[-1].val_loss, rel=1e-4)


def test_resume_without_checkpoint_starts_over_and_drops_stale_rows(tmp_path, tiny_model_dir):
    """A run killed before its first checkpoint: --resume starts at step 0 and keeps no stale metrics row."""
    from codetune.train.run import train_run, train_spec

    path = write_config(tmp_path, tiny_model_dir, max_steps=2, eval_every=1, save_every=2)
    cfg = load_config(path)
    rdir = run_dir(cfg.output_path, "a")
    (rdir / "checkpoints" / "checkpoint-1").mkdir(parents=True)  # Trainer's unfinished save
    train_spec(cfg, "a").write_record(cfg.output_path, finished=False)  # as a killed run leaves it
    stale = {k: 1.0 for k in ROW_KEYS} | {"step": 1, "tokens_seen": 1}
    (rdir / METRICS_FILE).write_text(json.dumps(stale) + "\n")
    train_run(cfg, "a", resume=True)
    rows = read_metrics(rdir / METRICS_FILE)
    assert [r.step for r in rows] == [1, 2] and rows[0].val_loss != 1.0
    assert [p.name for p in (rdir / "checkpoints").iterdir()] == ["checkpoint-step-2-epoch-0"]


def test_packed_batches_give_the_padded_loss(tmp_path, tiny_model_dir):
    """Padding-free packing: position ids restart per sequence and no token attends across sequences."""
    import torch
    from transformers import AutoModelForCausalLM

    from codetune.models import load_tokenizer
    from codetune.train.collate import PackingCollator, PadCollator, label_loss_sums

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    tok = load_tokenizer(cfg.model)
    data = prepare_study_run(cfg, "a", tok)
    rows = [data.train[i] for i in range(4)]
    padded = PadCollator(tok.pad_token_id)(rows)
    packed = PackingCollator()(rows)
    assert packed["input_ids"].shape[0] == 1
    assert (
        packed["input_ids"].shape[1] == sum(len(r["input_ids"]) for r in rows) < padded["input_ids"].numel()
    )
    assert (packed["position_ids"] == 0).sum() == len(rows)
    n_labels = sum(sum(1 for x in r["labels"] if x != -100) for r in rows)
    assert (padded["labels"] != -100).sum() == n_labels == (packed["labels"] != -100).sum()
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    model.config.use_cache = False  # as Trainer sets it; with a KV cache transformers builds no packed mask
    with torch.no_grad():
        loss_padded = model(**padded).loss
        loss_packed = model(**packed).loss
        sums = label_loss_sums(
            model(**{k: v for k, v in padded.items() if k != "labels"}).logits, padded["labels"]
        )
    assert loss_packed.item() == pytest.approx(loss_padded.item(), rel=1e-6)
    # Shifted labels: each row loses its first label position only if it is a label (never: prompts come first).
    assert (sums[:, 0].sum() / sums[:, 1].sum()).item() == pytest.approx(loss_padded.item(), rel=1e-5)


def test_only_assistant_tokens_carry_loss_in_training_batches(tmp_path, tiny_model_dir):
    from codetune.models import load_tokenizer
    from codetune.train.collate import PadCollator

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    tok = load_tokenizer(cfg.model)
    data = prepare_study_run(cfg, "a", tok)
    rows = [data.train[i] for i in range(3)]
    batch = PadCollator(tok.pad_token_id)(rows)
    solutions = [json.loads(line)["solution"] for line in (tmp_path / "data.jsonl").read_text().splitlines()]
    for i, r in enumerate(rows):
        labelled = batch["input_ids"][i][batch["labels"][i] != -100].tolist()
        text = tok.decode(labelled)
        assert text.endswith("<|im_end|>") and "<|im_start|>" not in text
        assert "You are a coder." not in text and "Problem" not in text
        assert any(s.strip() in text for s in solutions)
        pad_positions = batch["attention_mask"][i] == 0
        assert (batch["labels"][i][pad_positions] == -100).all()
        assert int(batch["attention_mask"][i].sum()) == r["length"]


def test_bad_input(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    for key in ("eval_every", "save_every"):
        with pytest.raises(CodetuneError, match=f"training.{key}"):
            parse_config({"runs": {"a": {"dataset": {"source": "x.jsonl"}}}, "training": {key: 0}})
    cfg = load_config(write_config(tmp_path / "ok", tiny_model_dir))
    with pytest.raises(CodetuneError, match="run 'nope' is not in the config"):
        train_run(cfg, "nope")

    empty = tmp_path / "empty"
    empty.mkdir()
    write_naholav_jsonl(empty / "data.jsonl", n_valid=0)
    cfg = load_config(write_config(empty, tiny_model_dir))
    with pytest.raises(CodetuneError, match="valid"):
        train_run(cfg, "a")
    assert not run_dir(cfg.output_path, "a").exists()  # nothing made


def test_qlora_needs_cuda(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    cfg.lora.quantize = "4bit"
    with pytest.raises(CodetuneError, match="QLoRA.*CUDA"):
        train_run(cfg, "a")


def test_cli_train_errors_are_one_line(tmp_path, tiny_model_dir):
    path = write_config(tmp_path, tiny_model_dir)
    res = subprocess.run(
        [sys.executable, "-m", "codetune", "train", str(path), "--run", "missing"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["codetune: error: run 'missing' is not in the config; runs: a"]


def test_packing_accumulation_and_checkpointing_options_train(tmp_path, tiny_model_dir, monkeypatch):
    """What each option changes in the loop: accumulation 2 runs two micro-batches per optimizer step,
    packing makes each micro-batch one row holding its batch_size sequences, checkpointing is on in the
    model; the tokens counted are the packed ones."""
    import transformers

    from codetune.train.run import train_run

    seen = []  # per micro-batch: (global step, rows, sequences, tokens, checkpointing on)
    real = transformers.Trainer.training_step

    def spy(trainer, model, inputs, *a, **k):
        ids = inputs["input_ids"]
        sequences = int((inputs["position_ids"] == 0).sum()) if "position_ids" in inputs else ids.shape[0]
        checkpointing = any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())
        seen.append((trainer.state.global_step, ids.shape[0], sequences, ids.numel(), checkpointing))
        return real(trainer, model, inputs, *a, **k)

    monkeypatch.setattr(transformers.Trainer, "training_step", spy)
    path = write_config(
        tmp_path,
        tiny_model_dir,
        max_steps=2,
        batch_size=2,
        gradient_accumulation_steps=2,
        packing=True,
        group_by_length=False,
        gradient_checkpointing=True,
        max_eval_samples=3,
        report_to=[],
    )
    rdir = train_run(load_config(path), "a")
    assert [(step, rows, seqs) for step, rows, seqs, _, _ in seen] == [
        (0, 1, 2),
        (0, 1, 2),
        (1, 1, 2),
        (1, 1, 2),
    ]
    assert all(on for *_, on in seen)
    rows = read_metrics(rdir / METRICS_FILE)
    assert [r.step for r in rows] == [2] and math.isfinite(rows[0].val_loss)
    assert rows[0].tokens_seen == sum(tokens for _, _, _, tokens, _ in seen)  # no padding to leave out
    assert not (rdir / "tb").exists()


def test_eval_split_is_capped_and_sorted_longest_first(tmp_path, tiny_model_dir):
    import datasets

    from codetune.train.run import eval_split

    cfg = load_config(write_config(tmp_path, tiny_model_dir, max_eval_samples=4))
    ds = datasets.Dataset.from_dict(
        {"input_ids": [[1] * n for n in range(1, 11)], "length": list(range(1, 11))}
    )
    capped = eval_split(ds, "validation", max_samples=4, seed=cfg.training.seed)
    assert len(capped) == 4 and capped["length"] == sorted(capped["length"], reverse=True)
    assert capped["length"] == eval_split(ds, "validation", max_samples=4, seed=cfg.training.seed)["length"]
    with pytest.raises(CodetuneError, match="validation split is empty"):
        eval_split(ds.select([]), "validation", max_samples=4, seed=cfg.training.seed)


def test_differences_name_every_key_that_changed_or_appeared():
    from codetune.fingerprint import differences

    saved = {"training": {"learning_rate": 1e-3, "seed": 1}, "lora": {"r": 4}}
    assert differences(saved, {"training": {"learning_rate": 1e-3, "seed": 1}, "lora": {"r": 4}}) == []
    assert differences(saved, {"training": {"learning_rate": 2e-3, "seed": 1}, "lora": {"r": 8}}) == [
        "lora.r",
        "training.learning_rate",
    ]
    # A setting another codetune version added changes what is computed unless it reproduces the old
    # behaviour, which nothing here can know: it counts, and says so.
    assert differences(
        saved, {"training": {"learning_rate": 1e-3, "seed": 1, "new": 0}, "lora": {"r": 4}}
    ) == ["training.new (not in the record)"]


def test_a_run_folder_without_stage_record_is_refused(tmp_path, tiny_model_dir):
    from codetune.train.run import train_run

    cfg = load_config(write_config(tmp_path, tiny_model_dir))
    rdir = run_dir(cfg.output_path, "a")
    rdir.mkdir(parents=True)
    (cfg.output_path / "stages").mkdir()  # a study's folder whose other stages have records
    (rdir / METRICS_FILE).write_text("")
    with pytest.raises(CodetuneError, match="no stage record.*--overwrite.*nothing deleted"):
        train_run(cfg, "a")
    assert (rdir / METRICS_FILE).exists()
