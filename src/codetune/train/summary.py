"""A run's metrics rows and what they sum up to: best val/test step, final losses, the overfitting signal.

Pure functions over a run's metrics rows (no torch), shared by the trainer and the report.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from codetune import layout
from codetune.errors import CodetuneError
from codetune.files import write_bytes_atomic, write_text_atomic
from codetune.fingerprint import changed_content
from codetune.records import FinalLosses, LossAt, MetricsRow, RunSummary, StageRecord


def read_metrics(path: Path) -> list[MetricsRow]:
    """Rows of a metrics file; a torn last line (a kill mid-write) is ignored, a bad line elsewhere is an error."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(MetricsRow.parse(json.loads(line), f"{path}: line {i}"))
        except (json.JSONDecodeError, CodetuneError) as e:
            if i == len(lines):
                break
            if isinstance(e, CodetuneError):
                raise
            raise CodetuneError(f"{path}: line {i} is not JSON ({e.msg})") from None
    return rows


def truncate_metrics(path: Path, last_step: int) -> list[MetricsRow]:
    """Keep the rows up to `last_step` (the checkpoint a run resumes from); rewrite the file; return them."""
    kept = [r for r in read_metrics(path) if r.step <= last_step]
    write_text_atomic(path, "".join(r.line() + "\n" for r in kept))
    return kept


def overfitting_step(steps: list[int], val_losses: list[float], patience: int) -> int | None:
    """First eval step after the validation minimum from which val loss rose `patience` evals in a row.

    That is the step s[i] (i after the minimum) with val[i-1] < val[i] < ... < val[i+patience-1]: the first
    of `patience` consecutive rises. None when val loss never rose that long after its minimum.
    """
    if patience <= 0:
        raise ValueError("patience must be positive")
    if len(steps) != len(val_losses) or not steps:
        return None
    best = min(range(len(val_losses)), key=lambda i: val_losses[i])
    for i in range(best + 1, len(val_losses) - patience + 1):
        if all(val_losses[j] > val_losses[j - 1] for j in range(i, i + patience)):
            return steps[i]
    return None


def _best(rows: list[MetricsRow], key: str) -> LossAt | None:
    finite = [r for r in rows if math.isfinite(getattr(r, key))]
    if not finite:
        return None
    r = min(finite, key=lambda r: getattr(r, key))  # earliest step wins a tie
    return LossAt(step=r.step, loss=getattr(r, key))


def summarize(
    rows: list[MetricsRow],
    *,
    run: str,
    patience: int,
    wall_time: float | None = None,
    checkpoints: Sequence[str] = (),
    checkpoint_sha256: dict[str, str] | None = None,
    data: dict[str, dict[str, Any]] | None = None,
    acceleration: dict[str, Any] | None = None,
) -> RunSummary:
    """The run summary: best val and test (step, loss), final losses, the overfitting signal, wall time."""
    if not rows:
        raise CodetuneError("no metrics rows to summarize: the run has not reached its first eval step")
    rows = sorted(rows, key=lambda r: r.step)
    last = rows[-1]
    return RunSummary(
        run=run,
        steps=last.step,
        epochs=last.epoch,
        evals=len(rows),
        best_val=_best(rows, "val_loss"),
        best_test=_best(rows, "test_loss"),
        final=FinalLosses(
            step=last.step, train_loss=last.train_loss, val_loss=last.val_loss, test_loss=last.test_loss
        ),
        overfitting_step=overfitting_step([r.step for r in rows], [r.val_loss for r in rows], patience),
        overfit_patience=patience,
        tokens_seen=last.tokens_seen,
        wall_time=round(wall_time if wall_time is not None else last.wall_time, 2),
        checkpoints=list(checkpoints),
        checkpoint_sha256=checkpoint_sha256 or {},
        data=data or {},
        acceleration=acceleration or {},
    )


def plot_losses(
    rows: list[MetricsRow], out: Path | BinaryIO, *, title: str = "", overfit_step: int | None = None
) -> Path | BinaryIO:
    """The loss plot: train / val / test loss against step, the minimum test loss marked with its step and value."""
    import matplotlib

    matplotlib.use("Agg")  # no display; safe in worker threads and on servers
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r.step)
    steps = [r.step for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    train = [(r.step, r.train_loss) for r in rows if r.train_loss is not None]
    if train:
        ax.plot(*zip(*train, strict=True), marker="o", ms=3, label="train (mean over interval)")
    ax.plot(steps, [r.val_loss for r in rows], marker="o", ms=3, label="validation")
    ax.plot(steps, [r.test_loss for r in rows], marker="o", ms=3, label="test")
    best = _best(rows, "test_loss")
    if best is not None:
        ax.scatter([best.step], [best.loss], s=80, facecolors="none", edgecolors="red", zorder=5)
        ax.annotate(
            f"min test {best.loss:.4f} @ step {best.step}",
            (best.step, best.loss),
            textcoords="offset points",
            xytext=(0, -16),
            ha="center",
            color="red",
            fontsize=9,
        )
    if overfit_step is not None:
        ax.axvline(
            overfit_step, color="grey", ls=":", lw=1, label=f"overfitting signal (step {overfit_step})"
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (label tokens)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if isinstance(out, (str, Path)):  # a file: written whole or not at all
        buf = io.BytesIO()
        fig.savefig(buf, format=Path(out).suffix.lstrip(".") or "png")
        write_bytes_atomic(out, buf.getvalue())
    else:  # a buffer the caller gave
        fig.savefig(out, format="png")
    plt.close(fig)
    return out


def results_damage(
    output_dir: Path, rdir: Path, record: StageRecord | None, summary: RunSummary
) -> list[str]:
    """The run's losses and summary as training left them: by the hashes its finished record holds, else
    (a record from an older codetune, or one killed before it was finished) the summary's count of
    evaluations against the metrics file's rows. In words; empty when intact."""
    if record is not None and record.finished and record.outputs is not None:
        return [f"{p} changed since training" for p in changed_content(output_dir, record)]
    rows = read_metrics(layout.metrics_path(rdir))
    if len(rows) != summary.evals or (rows and rows[-1].step != summary.steps):
        return [
            f"{layout.METRICS_FILE} holds {len(rows)} of the {summary.evals} evaluations its summary counts"
        ]
    return []
