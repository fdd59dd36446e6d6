"""Bring existing LiveCodeBench runs into a study folder: one answers file per checkpoint (LiveCodeBench's
custom-output layout, `[{"question_id", "code_list"}]`), scored by codetune's grader (the same function as
`codetune score`), written as evaluations that `codetune select` and `codetune report` read like any other.

A file name maps to its run and step through a pattern such as `{run}_checkpoint-step-{step}-epoch-{epoch}_*.json`
(`*` any text; `{epoch}` optional, 0 without it). Each evaluation's summary says its answers were imported and
names its file and that file's sha256 (generated_by), and layout.IMPORT_FILE lists them all. Nothing claims
training: there are no checkpoints, no train stage records, no run summaries; a run's losses are there only
when its `metrics.jsonl` is given. Re-running continues: an evaluation already imported from the same bytes is
kept, one from other bytes is redone.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Set
from pathlib import Path

from codetune import __version__, layout
from codetune.config import DEFAULT_IMPORT_PATTERN
from codetune.errors import CodetuneError
from codetune.files import atomic_dir, write_text_atomic
from codetune.fingerprint import digest, file_sha256, now
from codetune.locks import folder_lock
from codetune.progress import progress_bar, say
from codetune.records import (
    IMPORTED,
    EvalSummary,
    ImportedFile,
    ImportRecord,
    write_list,
)

_FIELDS = {"run": r"(?P<run>[A-Za-z0-9_-]+?)", "step": r"(?P<step>\d+)", "epoch": r"(?P<epoch>\d+)"}


def pattern_regex(pattern: str) -> re.Pattern:
    """The regular expression of a file-name pattern; {run} and {step} are required, each field once."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}|\*", pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        name = m.group(1)
        if name is None:
            out.append(".*?")
        elif name not in _FIELDS:
            raise CodetuneError(
                f"--pattern {pattern!r}: unknown field {{{name}}} (fields: {{run}}, {{step}}, {{epoch}})"
            )
        else:
            out.append(_FIELDS[name])
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    for need in ("run", "step"):
        if pattern.count(f"{{{need}}}") != 1:
            raise CodetuneError(f"--pattern {pattern!r}: needs {{{need}}} exactly once")
    return re.compile("^" + "".join(out) + "$")


def match_files(
    answers_dir: Path, pattern: str, *, skip: Set[Path] = frozenset()
) -> dict[tuple[str, str], Path]:
    """(run, checkpoint name) -> its answers file. A file the pattern does not match is left out (said); two
    files for one checkpoint are an error naming both."""
    answers_dir = Path(answers_dir)
    if not answers_dir.is_dir():
        raise CodetuneError(f"answers folder {answers_dir} does not exist")
    rx = pattern_regex(pattern)
    found: dict[tuple[str, str], Path] = {}
    unmatched = []
    for path in sorted(p for p in answers_dir.iterdir() if p.is_file()):
        if path.resolve() in skip:
            continue
        m = rx.match(path.name)
        if m is None:
            unmatched.append(path.name)
            continue
        epoch = int(m.group("epoch")) if "epoch" in rx.groupindex else 0
        key = (m.group("run"), layout.checkpoint_name(int(m.group("step")), epoch))
        if key in found:
            raise CodetuneError(
                f"{found[key].name} and {path.name} both map to run {key[0]} {key[1]}: make --pattern match one"
            )
        found[key] = path
    if unmatched:
        shown = ", ".join(unmatched[:4]) + (f" and {len(unmatched) - 4} more" if len(unmatched) > 4 else "")
        say(f"{len(unmatched)} file(s) not matching {pattern!r} left out: {shown}")
    if not found:
        raise CodetuneError(f"{answers_dir}: no file matches --pattern {pattern!r}")
    return found


def import_config_doc(name: str, model: str, runs: list[str], benchmark: dict) -> dict:
    """The study config of an imported folder: what the answers were scored on; its runs have no dataset
    codetune read (the report says the study is imported)."""
    return {
        "name": name,
        "model": {"source": model},
        "runs": {r: {"dataset": {"source": IMPORTED}} for r in runs},
        "benchmark": benchmark,
    }


def _imported_rules(bench, selection) -> dict:
    """The rules the answers are scored under; an earlier import is kept only where they are the same."""
    from codetune.bench.lcb import selection_identity
    from codetune.bench.prompts import LCB_COMMIT
    from codetune.bench.scoring import SCORING_VERSION

    return {
        "answers": IMPORTED,
        "benchmark_sha256": digest(selection_identity(selection)),  # every selected problem and test
        "timeout_s": bench.timeout_s,
        "memory_mb": bench.memory_mb,
        "livecodebench_commit": LCB_COMMIT,
        "scoring_version": SCORING_VERSION,
    }


def _score_one(
    path: Path,
    out_dir: Path,
    *,
    run: str | None,
    checkpoint: str | None,
    model: str,
    selection,
    bench,
    runner,
) -> EvalSummary:
    """Score one answers file into its eval folder (written whole, summary last, or not at all)."""
    from codetune.bench.scoring import grading_limits, load_generations, score_generations, summarize_scores

    sha = file_sha256(path)
    rules = _imported_rules(bench, selection)
    done = EvalSummary.complete_in(out_dir)
    if done is not None and (done.generated_by or {}).get("sha256") == sha and done.scoring == rules:
        return done  # the same bytes scored under the same rules on the same problems
    gens = load_generations(path)
    t0 = time.time()
    limits = grading_limits(bench.timeout_s, bench.memory_mb)
    try:
        scores = score_generations(selection.problems, gens, limits=limits, runner=runner)
    except CodetuneError as e:
        raise CodetuneError(f"{path}: {e}") from None
    missing = {p.question_id for p in selection.problems} - {g["question_id"] for g in gens}
    if missing:
        shown = ", ".join(sorted(missing)[:4]) + (" ..." if len(missing) > 4 else "")
        raise CodetuneError(f"{path}: no answers for {len(missing)} benchmark problem(s): {shown}")
    seconds = time.time() - t0
    ks = sorted({k for k in (1, 5, 10) if all(len(s.graded_list) >= k for s in scores)})
    stats = summarize_scores(scores, ks)
    parsed = layout.parse_checkpoint_name(checkpoint) if checkpoint else None
    summary = EvalSummary(
        **stats.model_dump(by_alias=True),
        model=layout.BASE_MODEL_NAME if run is None else f"{run}_{checkpoint}",
        run=run,
        checkpoint=checkpoint or layout.BASE_MODEL_NAME,
        step=parsed[0] if parsed else None,
        epoch=parsed[1] if parsed else None,
        base_model=model,
        system_prompt=None,
        wall_time_s=round(seconds, 3),
        generation_time_s=0.0,
        scoring_time_s=round(seconds, 3),
        problems_per_s=None,
        resumed=False,
        scoring=rules,
        benchmark_provenance=selection.provenance(),
        generated_by={"backend": IMPORTED, "file": path.name, "sha256": sha},
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out_dir) as tmp:
        write_text_atomic(layout.generations_path(tmp), json.dumps(gens, indent=1, ensure_ascii=False) + "\n")
        write_list(layout.scores_path(tmp), scores)
        summary.write(layout.eval_summary_path(tmp))  # last: the evaluation is complete
    return summary


def _remove_others(out: Path, runs: list[str], files: dict, has_base: bool) -> None:
    """What an earlier import of this folder wrote that this one does not: never mixed into its results."""
    if not has_base:
        shutil.rmtree(layout.base_eval_dir(out), ignore_errors=True)
    root = layout.runs_dir(out)
    for rdir in sorted(root.iterdir()) if root.is_dir() else []:
        if rdir.name not in runs:
            shutil.rmtree(rdir)
            continue
        evals = layout.evals_root(rdir)
        for e in sorted(evals.iterdir()) if evals.is_dir() else []:
            if (rdir.name, e.name) not in files:
                shutil.rmtree(e)
        metrics = layout.metrics_path(rdir)
        metrics.unlink(missing_ok=True)  # copied again below when given


def import_answers(
    answers_dir: str | Path,
    out: str | Path,
    *,
    model: str,
    benchmark: dict,
    pattern: str = DEFAULT_IMPORT_PATTERN,
    base: str | Path | None = None,
    metrics: dict[str, Path] | None = None,
    overrides: list[str] | None = None,
    workers: int | None = None,
) -> ImportRecord:
    """Score every answers file of `answers_dir` into the study folder `out`; returns the import record."""
    from codetune.bench.lcb import load_benchmark
    from codetune.bench.sources import benchmark_source
    from codetune.config import dump_config, parse_config
    from codetune.sandbox import get_runner

    answers_dir, out = Path(answers_dir), Path(out)
    base = Path(base) if base is not None else None
    if base is not None and not base.is_file():
        raise CodetuneError(f"--base {base}: file not found")
    files = match_files(answers_dir, pattern, skip={base.resolve()} if base else set())
    runs = sorted({r for r, _ in files})
    metrics = metrics or {}
    for run, path in metrics.items():
        if run not in runs:
            raise CodetuneError(
                f"--metrics {run}={path}: no answers file maps to run {run} (runs: {', '.join(runs)})"
            )
        if not Path(path).is_file():
            raise CodetuneError(f"--metrics {run}={path}: file not found")
    if out.exists() and not layout.import_record_path(out).is_file():  # not an import to continue
        if layout.holds_study(out):
            raise CodetuneError(
                f"{out} holds a study codetune trained: import into a new folder (nothing written)"
            )
        foreign = layout.foreign_files(out)
        if foreign:  # never among a user's files (the study's rule, layout.foreign_files)
            raise CodetuneError(
                f"{out} is not empty and holds no study ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}): import into a new or empty folder (nothing written)"
            )
    bench = dict(benchmark)
    if "source" in bench:  # the config is written into the study folder: a relative path would not read there
        bench["source"] = benchmark_source(bench["source"]).absolute()
    cfg = parse_config(
        import_config_doc(out.name, model, runs, bench), origin="codetune import", overrides=overrides or []
    )
    from codetune.train.summary import read_metrics

    for path in metrics.values():
        read_metrics(Path(path))  # every line a MetricsRow, or an error naming the line
    jobs: list[tuple[str | None, str | None, Path]] = ([(None, None, base)] if base else []) + [
        (r, ck, p) for (r, ck), p in sorted(files.items())
    ]
    record = ImportRecord(
        answers_dir=str(answers_dir.resolve()),
        pattern=pattern,
        model=model,
        files=[ImportedFile(file=p.name, sha256=file_sha256(p), run=r, checkpoint=ck) for r, ck, p in jobs],
        metrics={r: file_sha256(Path(p)) for r, p in metrics.items()},
        imported_at=now(),
        codetune_version=__version__,
    )
    with folder_lock(out, "study folder"):
        # Written first: an interrupted import is still an import folder, and a rerun continues it.
        record.write(layout.import_record_path(out))
        write_text_atomic(layout.config_path(out), dump_config(cfg))
        selection = load_benchmark(cfg.benchmark, None, seed=cfg.training.seed, report=say)
        with get_runner(workers=workers or cfg.benchmark.workers) as runner, progress_bar("files") as bar:
            task = bar.add_task("import", total=len(jobs))
            for r, ck, path in jobs:
                if r is None:
                    folder = layout.base_eval_dir(out)
                else:
                    assert ck is not None  # a run's answers file is a checkpoint's
                    folder = layout.eval_dir(layout.run_dir(out, r), ck)
                _score_one(
                    path,
                    folder,
                    run=r,
                    checkpoint=ck,
                    model=model,
                    selection=selection,
                    bench=cfg.benchmark,
                    runner=runner,
                )
                bar.advance(task)
        _remove_others(out, runs, files, base is not None)
        for run, path in metrics.items():
            dest = layout.metrics_path(layout.run_dir(out, run))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return record
