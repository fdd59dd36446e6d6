"""The report from a tiny synthetic study built here (one run missing, one cut off), checked as files and,
when Debian's chromium is installed, as a page rendered by headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

import helpers
from codetune.cli import app
from codetune.layout import (
    EVAL_SUMMARY_FILE,
    REPORT_ASSETS_DIR,
    compare_dir,
    environment_path,
    overlap_path,
    profile_path,
    report_assets_dir,
)
from codetune.records import (
    CompareAnswers,
    CompareDecoding,
    CompareMetrics,
    CompareModel,
    CompareModelMetrics,
    DatasetProfile,
    Environment,
    MetricsRow,
    MinMedianMax,
    OverlapReport,
    RunSummary,
)
from codetune.study.behaviour import aggregate_metrics, answer_metrics
from codetune.study.compare import CompareResult, save_compare
from codetune.study.report import loss_facts, write_report
from codetune.study.select import select_study, write_selection
from helpers import DEEP_BINARY_SEARCH, DIVERSE_DISTANCE


def write_synthetic_study(root: Path, **kw) -> Path:
    """helpers.write_synthetic_study with its selection record written, as the selection stage leaves it:
    the report reads results only through that record."""
    study = helpers.write_synthetic_study(root, **kw)
    write_selection(study, select_study(study))
    return study


REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ("pass_at_step.png", "loss_vs_pass.png", "failure_kinds.png", "loss_deep.png", "loss_diverse.png")


def profile(run: str, rows: int, problems: int) -> DatasetProfile:
    return DatasetProfile(
        source=f"builtin:{run}",
        columns=["id", "input", "output", "solution", "split"],
        rows=rows,
        bad_rows_skipped=0,
        bad_row_examples=[],
        unique_problems=problems,
        solutions_per_problem=MinMedianMax(min=1, median=rows // problems, max=rows // problems, mean=1.0),
        problems_by_solution_count={str(rows // problems): problems},
        split_from="column 'split'",
        splits={"train": rows - 20, "valid": 10, "test": 10},
        split_problems={"train": problems - 4, "valid": 2, "test": 2},
        cross_split_problems=0,
        cross_split_examples=[],
        duplicate_rows=0,
        duplicate_examples=[],
    )


def full_study(tmp_path: Path) -> Path:
    """The synthetic study plus the files the pipeline adds: profiles, an overlap, a comparison, environment."""
    study = write_synthetic_study(tmp_path)
    for run, rows, problems in (("deep", 200, 200), ("diverse", 1000, 200)):
        profile(run, rows, problems).write(profile_path(study, run))
    OverlapReport(
        train_source="builtin:deep",
        train_rows=200,
        train_statements=200,
        benchmark_problems=10,
        ngram=5,
        threshold=0.5,
        possibly_seen_ids=["abc370_a", "abc371_a"],
        pairs=[],
        seconds=0.1,
        similarity="containment",
    ).write(overlap_path(study, "deep"))
    prompts = ["Explain binary search, then implement it.", "Distance in three ways."]
    models, metrics = [], []
    for name, answers in (
        ("deep/checkpoint-step-20-epoch-0", [DEEP_BINARY_SEARCH, "```python\nimport math\n```"]),
        ("diverse/checkpoint-step-10-epoch-0", ["def f(): pass", DIVERSE_DISTANCE]),
    ):
        ms = [answer_metrics(a) for a in answers]
        models.append(CompareModel(name=name, checkpoint=None, answers=answers, seconds=3.0))
        metrics.append(
            CompareModelMetrics(name=name, checkpoint=None, metrics=ms, aggregate=aggregate_metrics(ms))
        )
    answers = CompareAnswers(
        base_model="smollm2-135m-instruct",
        prompts=prompts,
        system_prompt=None,
        decoding=CompareDecoding(temperature=0.0, max_new_tokens=512),
        models=models,
    )
    save_compare(CompareResult(answers, CompareMetrics(prompts=prompts, models=metrics)), compare_dir(study))
    Environment(
        recorded_at="2025-01-01T00:00:00+00:00",
        python="3.11.2",
        platform="Linux",
        machine="x86_64",
        cpu_count=2,
        executable="/usr/bin/python3",
        packages={"torch": "2.13.0"},
        accelerator=None,
        sandbox="none: jobs run as the user's own uid (CODETUNE_SANDBOX_WEAK=1)",
    ).write(environment_path(study))
    return study


def test_report_files_state_computed_facts_and_gaps(tmp_path):
    study = full_study(tmp_path)
    html_path, md_path = write_report(study)
    md = md_path.read_text()
    html = html_path.read_text()
    # The selected best, with its interval, and the missing / partial runs said in words.
    assert "Highest pass@1: deep's checkpoint at step 20, 40.0% (4/10)" in md
    assert "| **deep** | **step 20** | **40.0%** | **4/10** | **16.8–68.7%** |" in md
    assert "run absent: not started" in md and "Run absent was not started" in md
    assert "run diverse: training incomplete" in md and "checkpoint-step-20-epoch-0 not evaluated" in md
    assert "Validation loss is lowest at step 20 (0.8000) and is higher at the one evaluation after it" in md
    # Paired comparison worded from the test; selection on the same problems said next to the numbers.
    assert (
        "deep best vs diverse best on 10 problems: both solve 2, only deep best 2, only diverse best 1" in md
    )
    assert "not distinguishable at 10 problems" in md
    assert "Selection and reporting use the same 10 problems" in md
    # Contamination: 2 of 10 seen; deep's best solves abc370_a..abc373_a, so 2 of the 8 unseen = 25.0%.
    assert "deep: 2 of 10 benchmark problems have a near-duplicate" in md and "25.0% on the 8 others" in md
    assert "diverse: overlap with the benchmark not computed" in md
    # How the answers were confined, stated where the environment is (weak isolation is never silent).
    assert "| sandbox isolation | none: jobs run as the user's own uid (CODETUNE_SANDBOX_WEAK=1) |" in md
    # Datasets' real shape and the behaviour metrics.
    assert "diverse: 1,000 rows of 200 distinct problems (median 5 solutions per problem)" in md
    assert "imports math, numpy" in md
    assert "What this demo is" in md  # built-in model + data + benchmark
    # Self-contained HTML: images inlined, no external reference.
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(FIGURES)
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    for name in FIGURES:
        assert (report_assets_dir(study) / name).read_bytes().startswith(PNG_MAGIC)
        assert f"{REPORT_ASSETS_DIR}/{name}" in md
    assert "Traceback" not in md


def test_report_without_compare_or_profiles(tmp_path):
    study = write_synthetic_study(tmp_path, with_missing_run=False)
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "No behaviour comparison yet" in md
    assert "deep: no dataset profile" in md
    assert "No environment.json" in md


def test_report_cli(tmp_path):
    study = write_synthetic_study(tmp_path)
    res = CliRunner().invoke(app, ["report", str(study)])
    assert res.exit_code == 0, res.output
    assert "report.html" in res.output and (study / "report.md").is_file()


def test_loss_facts_overfitting():
    rows = [
        MetricsRow(
            step=s,
            epoch=0,
            train_loss=1.0 - s / 1000,
            val_loss=v,
            test_loss=v + 0.1,
            learning_rate=None,
            tokens_seen=0,
            wall_time=0.0,
        )
        for s, v in zip(range(20, 161, 20), [0.9, 0.7, 0.6, 0.5, 0.55, 0.6, 0.65, 0.62], strict=True)
    ]
    summary = RunSummary.model_validate(
        {
            "run": "r",
            "steps": 160,
            "epochs": 1.0,
            "evals": 8,
            "best_val": {"step": 80, "loss": 0.5},
            "best_test": {"step": 80, "loss": 0.6},
            "final": {"step": 160, "train_loss": 0.84, "val_loss": 0.62, "test_loss": 0.72},
            "overfitting_step": 100,
            "overfit_patience": 3,
            "tokens_seen": 0,
            "wall_time": 0.0,
            "checkpoints": [],
        }
    )
    facts = loss_facts(rows, summary, 3)
    assert "8 evaluations from step 20 to step 160 (every 20 steps)." in facts
    assert any(
        "Validation loss is lowest at step 80 (0.5000) and rises for the next 3 evaluations" in f
        for f in facts
    )
    assert any("rose 3 evaluations in a row starting at step 100" in f for f in facts)


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs: list[dict] = []
        self.tables = 0
        self.rows = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag == "table":
            self.tables += 1
        elif tag == "tr":
            self.rows += 1

    def handle_data(self, data):
        self.text.append(data)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/setup-tests.sh installs it; CI always has it)",
)
def test_report_renders_in_headless_chromium(tmp_path):
    study = full_study(tmp_path)
    html_path, _ = write_report(study)
    # Offline: the page is opened from a copy in a folder of its own, so nothing next to it can be loaded.
    page = tmp_path / "alone" / "report.html"
    page.parent.mkdir()
    shutil.copy(html_path, page)
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    # An image that decodes gets its natural width; this script writes it into the DOM chromium dumps.
    probe = tmp_path / "alone" / "probe.html"
    probe.write_text(
        page.read_text().replace(
            "</main>",
            "</main><script>document.querySelectorAll('img').forEach(i=>i.setAttribute('data-w',"
            "i.complete?i.naturalWidth:-1));</script>",
        )
    )
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert len(parsed.imgs) == len(FIGURES)
    for img in parsed.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(PNG_MAGIC)
        assert int(img["data-w"]) > 100, f"{img.get('data-name')} did not decode in chromium"
    assert parsed.tables >= 8 and parsed.rows >= 30
    text = " ".join(parsed.text)
    assert "deep_checkpoint-step-20-epoch-0 (selected)" in text
    assert "not distinguishable at 10 problems" in text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-screenshot.png"
    shot.unlink(missing_ok=True)
    res = subprocess.run(
        [*flags, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC) and shot.stat().st_size > 20_000


def _set_scoring(study: Path, rules: dict, only: str | None = None) -> None:
    for f in study.rglob(EVAL_SUMMARY_FILE):
        s = json.loads(f.read_text())
        if "pass@1" in s and (only is None or s.get("model") == only):
            f.write_text(json.dumps({**s, "scoring": rules}))


def test_report_names_the_scoring_rules(tmp_path):
    from codetune.bench.rules import scoring_rules
    from codetune.config import BenchmarkConfig

    study = write_synthetic_study(tmp_path, with_missing_run=False)
    _, md_path = write_report(study)
    assert "Scoring rules not recorded for" in md_path.read_text()

    rules = scoring_rules(BenchmarkConfig(), "Qwen/Qwen2.5-Coder-1.5B-Instruct", None)
    _set_scoring(study, rules)
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "Scoring rules: prompt style CodeQwenInstruct; extraction LiveCodeBench's" in md
    assert "stop string ('###')" in md and "LiveCodeBench rules of commit 28fef95ea8c9" in md
    assert "first closed code block" not in md and "Scoring rules not recorded" not in md

    fast = scoring_rules(
        BenchmarkConfig(generation={"stop_at_code_end": True}), "Qwen/Qwen2.5-Coder-1.5B-Instruct", None
    )
    _set_scoring(study, fast, only="base")
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "Scoring rules differ between evaluations, so their scores do not compare" in md
    assert "generation stopped at the first closed code block" in md


def test_report_says_when_files_read_directly_are_not_vouched_for(tmp_path):
    """Issue 20 item 3: the comparison, profiles and overlaps are checked against their stage records."""
    from codetune.fingerprint import StageSpec

    study = full_study(tmp_path)
    ck = {"name": "checkpoint-step-10-epoch-0", "sha256": "0" * 64}
    StageSpec("compare", None, config={}, inputs={"checkpoints": {"deep": ck}}).write_record(
        study, finished=True
    )
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert (
        "The comparison ran on checkpoints other than the ones selected now (deep: compared "
        "checkpoint-step-10-epoch-0, selected checkpoint-step-20-epoch-0; diverse: compared none, selected "
        "checkpoint-step-10-epoch-0)" in md
    )
    # With stage records in the folder, a profile or overlap without one is said to be unrecorded.
    assert "The dataset profile of deep has no stage record" in md
    assert "The overlap check of deep has no stage record" in md


def test_report_under_a_selection_split(tmp_path):
    """Selected on half the problems, reported on the other half: every table and the matrix use the
    reporting half, and say so."""
    study = write_synthetic_study(
        tmp_path, with_missing_run=False, selection="{method: random, select_fraction: 0.5, seed: 1}"
    )
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "| base model |  | " in md and "/5 |" in md and "/10 |" not in md.split("## Loss against")[0]
    assert "5 problems (the problems reported on; the 5 that selected are left out) x 5 models" in md
    matrix = md.split("## Problems")[1].split("###")[0]
    assert len([line for line in matrix.splitlines() if line.startswith("| abc")]) == 5


def test_report_with_several_samples_per_problem(tmp_path):
    """n > 1: a problem is solved when at least half its samples pass; failures count every sample."""
    from codetune.layout import base_eval_dir
    from helpers import BASE_LABEL, SYNTHETIC_CONFIG, write_synthetic_eval, write_synthetic_run

    study = tmp_path / "study"
    study.mkdir()
    runs = "  deep:\n    dataset: {source: 'builtin:deep'}\n"
    (study / "config.yaml").write_text(SYNTHETIC_CONFIG.format(runs=runs, selection="{method: all}"))
    write_synthetic_eval(base_eval_dir(study), [[True, False, False]] * 10, label=BASE_LABEL)
    write_synthetic_run(
        study,
        "deep",
        {10: [[True, True, False]] * 4 + [[False] * 3] * 6, 20: [[True] * 3] * 2 + [[False] * 3] * 8},
    )
    write_selection(study, select_study(study))
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "| **deep** | **step 10** |" in md
    matrix = md.split("## Problems")[1].split("###")[0]
    assert "| abc370_a | E |" not in matrix  # no difficulty recorded in the synthetic entries
    assert "| abc370_a |  | WA | ✓ | ✓ |" in matrix and "| abc373_a |  | WA | ✓ | WA |" in matrix
    # 30 answers per model: base passes 10 samples of 30, deep step 10 passes 8.
    assert (
        "| base | 10 | 20 | 30 |" in md and "| **deep step 10 (selected)** | **8** | **22** | **30** |" in md
    )


def test_report_names_the_engine_that_generated_the_answers(tmp_path):
    """From each shown evaluation's summary (generated_by), not from the config's `backend: auto`."""
    from codetune.records import EvalSummary

    study = write_synthetic_study(tmp_path, with_missing_run=False)
    md = write_report(study)[1].read_text()
    assert "Which engine generated the answers is not recorded (evaluated by an older codetune)." in md
    vllm = {
        "backend": "vllm",
        "package": "vllm 0.32.0",
        "engine": "one_engine",
        "settings": {
            "platform": "cpu",
            "enforce_eager": True,
            "dtype": "float32",
            "gpu_memory_utilization": 0.15,
        },
    }
    paths = [p for p in sorted(study.rglob(EVAL_SUMMARY_FILE)) if "pass@1" in json.loads(p.read_text())]
    for k, path in enumerate(paths):
        s = EvalSummary.read(path)
        hf = {"backend": "hf", "package": "transformers 5.25.0", "engine": "per_checkpoint"}
        hf["settings"] = {"device": "cpu", "dtype": "float32"}
        s.generated_by = vllm if k else hf
        s.write(path, indent=1)
    write_selection(study, select_study(study))
    md = write_report(study)[1].read_text()
    assert "Answers generated by different engines, whose greedy answers can differ: " in md
    assert "vLLM (vllm 0.32.0) on CPU, float32, eager, every checkpoint through one engine" in md
    assert (
        "transformers generate (transformers 5.25.0) on cpu, float32, one checkpoint at a time (1 evaluation"
        in md
    )
    for path in paths:
        s = EvalSummary.read(path)
        s.generated_by = vllm
        s.write(path, indent=1)
    write_selection(study, select_study(study))
    md = write_report(study)[1].read_text()
    sentence = (
        "Answers generated by vLLM (vllm 0.32.0) on CPU, float32, eager, every checkpoint through one engine."
    )
    assert md.count(sentence) == 2  # the summary under the results, and the configuration table


def test_report_is_the_same_whatever_the_process_s_string_hashing(tmp_path):
    """Two `codetune report` processes with other PYTHONHASHSEEDs write the same report.md (bar its build
    time): no table follows a set's order (the gained/lost rows did, so a rebuilt report reordered them)."""
    import os
    import re
    import subprocess
    import sys

    study = write_synthetic_study(tmp_path)
    texts = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run(
            [sys.executable, "-m", "codetune", "report", str(study)], env=env, capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr[-2000:]
        texts.append(re.sub(r"Built \S+ \S+ UTC", "Built", (study / "report.md").read_text()))
    assert "solved only by" in texts[0]
    assert texts[0] == texts[1] == texts[2]
