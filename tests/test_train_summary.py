"""summary.json from metrics rows: best steps, final losses, the overfitting signal (pure, no model)."""

from __future__ import annotations

import pytest

from codetune.errors import CodetuneError
from codetune.records import MetricsRow, RunSummary
from codetune.train.summary import (
    overfitting_step,
    plot_losses,
    read_metrics,
    summarize,
    truncate_metrics,
)


def rows_from(val: list[float], test: list[float] | None = None, every: int = 20) -> list[MetricsRow]:
    test = test or [v + 0.1 for v in val]
    return [
        MetricsRow(
            step=every * (i + 1),
            epoch=round(0.1 * (i + 1), 4),
            train_loss=v - 0.05,
            val_loss=v,
            test_loss=t,
            learning_rate=2e-4,
            tokens_seen=1000 * (i + 1),
            wall_time=10.0 * (i + 1),
        )
        for i, (v, t) in enumerate(zip(val, test, strict=True))
    ]


STEPS = [20, 40, 60, 80, 100, 120, 140, 160]


@pytest.mark.parametrize(
    ("val", "k", "expected"),
    [
        ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], 3, None),  # still improving
        ([1.0, 0.8, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0], 3, 80),  # min at 60, rises from 80 on
        ([1.0, 0.8, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0], 5, 80),  # five rises in a row: 80..160
        ([1.0, 0.8, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0], 6, None),  # only five rises exist
        ([1.0, 0.8, 0.7, 0.75, 0.72, 0.8, 0.9, 0.95], 3, 120),  # a dip breaks the first run
        ([1.0, 0.8, 0.7, 0.75, 0.75, 0.8, 0.9, 0.95], 2, 120),  # flat is not a rise
        ([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2], 1, 40),  # min at the first eval
        ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.45], 1, 160),  # one rise at the very end
    ],
)
def test_overfitting_step(val, k, expected):
    assert overfitting_step(STEPS, val, k) == expected


def test_overfitting_step_uses_the_global_minimum():
    # An early local minimum followed by rises does not count: the minimum is at 100.
    val = [1.0, 0.8, 0.85, 0.9, 0.6, 0.65, 0.7, 0.75]
    assert overfitting_step(STEPS, val, 2) == 120
    assert overfitting_step([], [], 3) is None
    with pytest.raises(ValueError):
        overfitting_step(STEPS, val, 0)


def test_summarize():
    val = [1.0, 0.8, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0]
    test = [1.1, 0.9, 0.85, 0.8, 0.82, 0.9, 1.0, 1.1]
    s = summarize(rows_from(val, test), run="r", patience=3, wall_time=123.456).to_json()
    assert s["best_val"] == {"step": 60, "loss": 0.7}
    assert s["best_test"] == {"step": 80, "loss": 0.8}
    assert s["final"] == {"step": 160, "train_loss": pytest.approx(0.95), "val_loss": 1.0, "test_loss": 1.1}
    assert s["overfitting_step"] == 80 and s["overfit_patience"] == 3
    assert s["wall_time"] == 123.46 and s["tokens_seen"] == 8000 and s["evals"] == 8
    assert RunSummary.parse(s, "summary") == summarize(
        rows_from(val, test), run="r", patience=3, wall_time=123.456
    )
    with pytest.raises(CodetuneError, match="no metrics rows"):
        summarize([], run="r", patience=3)


def test_read_and_truncate_metrics(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = rows_from([1.0, 0.9, 0.8, 0.7])
    path.write_text("".join(r.line() + "\n" for r in rows) + '{"step": 100, "epo')  # torn by a kill
    assert [r.step for r in read_metrics(path)] == [20, 40, 60, 80]
    kept = truncate_metrics(path, 40)
    assert [r.step for r in kept] == [20, 40] == [r.step for r in read_metrics(path)]
    assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 2
    path.write_text('{"step": 1}\n' + rows[0].line() + "\n")
    with pytest.raises(CodetuneError, match="line 1"):
        read_metrics(path)
    assert read_metrics(tmp_path / "missing.jsonl") == []


def test_plot_losses_writes_a_png(tmp_path):
    out = plot_losses(rows_from([1.0, 0.8, 0.7, 0.75]), tmp_path / "loss.png", title="r", overfit_step=80)
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 5000
