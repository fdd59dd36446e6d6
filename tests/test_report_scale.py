"""The report at the seed study's scale (2 runs x 18 checkpoints x its 41 problems), from a synthetic study
written the way the stages write it: answers scored by codetune's own scorer (a stand-in runner decides each
test's outcome, so every verdict kind and its metadata are real), summaries by its summarizer, the selection
by select_study, stage records by StageSpec. Checked as files, and in headless Chromium at desktop and phone
width."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from codetune import layout
from codetune.bench.evaluate import EvalLabel
from codetune.bench.scoring import grading_limits, score_generations, summarize_scores
from codetune.fingerprint import StageSpec, content_digest, stage_label
from codetune.records import EvalSummary, MetricsRow, ScoreEntry, StageRecord, read_list, write_list
from codetune.study.report import write_report
from codetune.study.select import select_study, write_selection
from codetune.train.summary import summarize
from fakes import StandInRunner
from helpers import seed_problems, write_scored_eval

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
PROBLEMS = seed_problems()
STEPS = list(range(2, 37, 2))  # 18 checkpoints
RUNS = ("deep", "diverse")
HOSTILE = "<script>document.title='pwned'</script></pre><b>bold</b>"
HOSTILE_TITLE = "<img src=x onerror=\"document.title='pwned'\">Leap Year"

CONFIG = """name: scale
output_dir: .
model: {{source: smollm2-135m-instruct}}
training: {{max_steps: 36, eval_every: 2, save_every: 2}}
runs:
{runs}
benchmark:
  source: builtin
  selection: {{method: all}}
"""

# The failures a program can name in its marker (fakes.StandInRunner answers each as the sandbox would).
FAILURES = ("wrong_answer", "runtime_error", "syntax_error", "timeout", "memory_limit")


def _outcome(rng: random.Random, p_solve: float) -> str:
    if rng.random() < p_solve:
        return "passed"
    return rng.choice((*FAILURES, "no_code"))


PROSE = "We read the input, keep a running answer and print it once every line has been seen. " * 4
BODY = (
    "import sys\n\n\ndef main():\n    data = sys.stdin.read().split()\n    n = int(data[0])\n"
    "    values = list(map(int, data[1 : n + 1]))\n    best = 0\n    for i, v in enumerate(values):\n"
    "        if v > best:\n            best = v\n    print(best)\n\n\nmain()\n"
) * 2


def generations(model: str, p_solve: float, *, hostile: bool = False) -> list[dict]:
    rng = random.Random(model)
    gens = []
    for i, p in enumerate(PROBLEMS):
        outcome = _outcome(rng, p_solve)
        # As long as a 1.5B coder model's answers run (about 1,200 characters, 500 of them code), so the size
        # measured here is the size a real study's report has.
        body = f"# fake {p.question_id} {outcome}\n" + BODY
        answer = f"Here is my solution for {p.question_title}. {PROSE}\n```python\n{body}```\n{PROSE}"
        if hostile and i == 0:
            answer += "\n" + HOSTILE
        code = None if outcome == "no_code" else body
        if hostile and i == 0 and code:
            code += f"\n# {HOSTILE}"
        gens.append(
            {
                "question_id": p.question_id,
                "code_list": [code],
                "output_list": [answer],
                "extraction_failed": [code is None],
            }
        )
    return gens


def write_eval(folder: Path, label: EvalLabel, p_solve: float, *, hostile: bool = False) -> None:
    entries = score_generations(
        PROBLEMS,
        generations(label.model, p_solve, hostile=hostile),
        limits=grading_limits(),
        runner=StandInRunner(PROBLEMS),
    )
    if hostile:  # a problem title is text from the benchmark: shown everywhere, escaped everywhere
        entries[0] = entries[0].model_copy(update={"question_title": HOSTILE_TITLE})
    write_scored_eval(
        folder, entries, label=label, generation_time_s=25.0, scoring_time_s=5.0, problems_per_s=1.4
    )


def record(study: Path, stage: str, key: str | None, inputs: dict) -> str:
    spec = StageSpec(stage, key, config={"benchmark": {"source": "builtin"}}, inputs=inputs)
    spec.write_record(study, finished=True)
    return spec.fingerprint


def p_solve(run: str, step: int) -> float:
    """deep improves steadily; diverse peaks mid-way and falls back (so the two runs' curves differ)."""
    if run == "deep":
        return 0.15 + 0.35 * step / STEPS[-1]
    return 0.15 + 0.3 * (1 - abs(step - 18) / 18)


def val_loss(run: str, step: int) -> float:
    return (
        1.0 - 0.4 * step / STEPS[-1]
        if run == "deep"
        else 1.0 - 0.5 * min(step, 20) / 36 + 0.01 * max(0, step - 20)
    )


def write_study(
    root: Path, *, runs: tuple[str, ...] = RUNS, steps: list[int] = STEPS, hostile: bool = False
) -> Path:
    """A study folder as the pipeline leaves it: config, runs with metrics, summaries and checkpoints, every
    evaluation with its stage record, and the selection with its record chained on theirs."""
    study = root / "study"
    study.mkdir(parents=True)
    (study / "config.yaml").write_text(
        CONFIG.format(runs="".join(f"  {n}:\n    dataset: {{source: 'builtin:{n}'}}\n" for n in runs))
    )
    fps = {}
    base = EvalLabel("base", None, "base", None, None)
    write_eval(layout.base_eval_dir(study), base, 0.15, hostile=hostile)
    fps["base"] = record(study, "eval", "base", {"model": "base"})
    for run in runs:
        d = layout.run_dir(study, run)
        rows = [
            MetricsRow(
                step=s,
                epoch=0,
                train_loss=1.1 - s / 60,
                val_loss=val_loss(run, s),
                test_loss=val_loss(run, s) + 0.05,
                learning_rate=1e-4,
                tokens_seen=s * 1000,
                wall_time=s * 3.0,
            )
            for s in steps
        ]
        d.mkdir(parents=True)
        layout.metrics_path(d).write_text("".join(r.line() + "\n" for r in rows))
        names = [layout.checkpoint_name(s, 0) for s in steps]
        summarize(rows, run=run, patience=3, checkpoints=names).write(layout.run_summary_path(d))
        for s, ck in zip(steps, names, strict=True):
            (layout.checkpoints_dir(d) / ck).mkdir(parents=True)
            (layout.checkpoints_dir(d) / ck / layout.ADAPTER_CONFIG_FILE).write_text("{}")
            label = EvalLabel(f"{run}_{ck}", run, ck, s, 0)
            write_eval(layout.eval_dir(d, ck), label, p_solve(run, s), hostile=hostile)
            key = layout.eval_key(run, ck)
            fps[key] = record(study, "eval", key, {"checkpoint": key})
    select(study, fps)
    return study


def select(study: Path, evals: dict[str, str] | None = None) -> None:
    """The selection stage: select_study's record written, and its stage record chained on the evaluations'
    as codetune.study.stages.selection chains: by stage label, their fingerprint and content."""
    if evals is None:
        recs = [StageRecord.read(p) for p in (layout.stages_dir(study) / "eval").rglob("*.json")]
        evals = {r.key: r.fingerprint for r in recs}
    chained = {
        stage_label("eval", key): {"fingerprint": fp, "content": content_digest(study, "eval", key)}
        for key, fp in evals.items()
    }
    write_selection(study, select_study(study))
    record(study, "selection", None, {"evals": chained, "version": 1})


def best(study: Path, run: str) -> str:
    return json.loads(layout.selection_path(study).read_text())["runs"][run]["best"]["checkpoint"]


# ------------------------------------------------------------------------------------------------ files


class _Grid(HTMLParser):
    """Counts the matrix's rows and cells and the answers' <details>."""

    def __init__(self):
        super().__init__()
        self.in_grid = False
        self.grid_rows = 0
        self.grid_cols = 0
        self.details = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("class") == "grid":
            self.in_grid = True
        elif tag == "tr" and self.in_grid:
            self.grid_rows += 1
            self.grid_cols = 0
        elif tag in ("td", "th") and self.in_grid:
            self.grid_cols += 1
        elif tag == "details":
            self.details += 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_grid = False


HTML_LIMIT = (
    1_500_000  # bytes at the seed scale with answers of real length; measured 0.91 MB (figures 0.35 MB)
)
# CPU seconds (the wall clock on a shared machine measures the neighbours too); measured 3.0 s.
BUILD_CPU_CEILING_S = 60


def test_seed_scale_report_is_small_quick_and_complete(tmp_path, capsys):
    study = write_study(tmp_path)
    t0 = time.process_time()
    html_path, md_path = write_report(study)
    took = time.process_time() - t0
    size = html_path.stat().st_size
    with capsys.disabled():
        print(
            f"\nseed scale: report.html {size:,} bytes, report.md {md_path.stat().st_size:,} bytes, built in {took:.1f} s of CPU"
        )
    assert size < HTML_LIMIT and took < BUILD_CPU_CEILING_S
    html = html_path.read_text()
    md = md_path.read_text()
    grid = _Grid()
    grid.feed(html)
    # 41 problem rows + the header; columns: problem, difficulty, base, 2 x 18 checkpoints.
    assert grid.grid_rows == 42 and grid.grid_cols == 3 + 2 * 18
    # Answers of the base model and the two selected checkpoints, one per problem (stated limit: not all 37).
    assert grid.details == 3 * 41 + 1  # + config.yaml's collapsed block
    assert grid.scripts == 0
    # Each matrix cell of the base model and the selected checkpoints links to an answer on the page.
    links = set(re.findall(r'href="#(ans-[^"]+)"', html))
    assert len(links) == 3 * 41 and links <= set(re.findall(r'id="(ans-[^"]+)"', html))
    # Every kind the scorer records shows in the matrix legend, the failure table and the answers.
    for label in (
        "wrong answer",
        "runtime error",
        "syntax error",
        "time limit",
        "memory limit",
        "no code extracted",
    ):
        assert label in md
    # The results table comes first, before any other section.
    assert (
        md.index("**Results: the base model") < md.index("## Loss against pass@1") < md.index("## Appendix")
    )
    for run in RUNS:
        ck = best(study, run)
        step = ck.split("-")[2]
        assert f"| **{run}** | **step {step}** |" in md or f"| {run} | step {step} |" in md
    assert (
        "Spearman rank correlation between validation loss and pass@1 over its 18 evaluated checkpoints" in md
    )
    assert "first failing test (test 0): input" in md
    base_fails = 41 - int(re.search(r"\| base model \|  \| [\d.]+% \| (\d+)/41", md).group(1))
    assert f"- base: {base_fails} of 41 answers fail, most often by " in md
    # The Markdown twin carries the same tables: the matrix's 41 rows, the failure table's 37.
    matrix = md.split("## Problems")[1].split("###")[0]
    assert len([line for line in matrix.splitlines() if line.startswith("| abc")]) == 41
    failures = md.split("**Answers per outcome kind**")[1].split("## Answers")[0]
    assert len([line for line in failures.splitlines() if line.startswith("| ")]) == 1 + 37
    assert "Every evaluation on disk is one the selection record" in md


def _results_row(md: str, run: str) -> str:
    results = md.split("**Results:")[1].split("\n\n")[1]
    return next(line for line in results.splitlines() if line.startswith((f"| {run} |", f"| **{run}** |")))


def test_every_number_follows_the_score_files(tmp_path):
    """A score file changed: until selection is redone the report refuses to show it as a result; after it,
    the results table, matrix and failure counts follow the file."""
    study = write_study(tmp_path, steps=[2, 4, 6])
    _, md_path = write_report(study)
    before = md_path.read_text()
    ck = best(study, "deep")
    folder = layout.eval_dir(layout.run_dir(study, "deep"), ck)
    entries = read_list(ScoreEntry, layout.scores_path(folder))
    i = next(i for i, s in enumerate(entries) if s.solved)
    entries[i] = entries[i].model_copy(
        update={
            "graded_list": [False],
            "pass_at_1": 0.0,
            "verdicts": [["timeout"]],
            "metadata": [{"error_code": -3, "error_message": "timeout", "test_index": 0}],
        }
    )
    write_list(layout.scores_path(folder), entries)
    old = EvalSummary.read(layout.eval_summary_path(folder))
    EvalSummary(**{**old.model_dump(), **summarize_scores(entries).model_dump()}).write(
        layout.eval_summary_path(folder)
    )
    key = layout.eval_key("deep", ck)
    record(study, "eval", key, {"checkpoint": key})  # re-evaluated: finished with the new files' hashes
    _, md_path = write_report(study)
    stale = md_path.read_text()
    assert "no longer gives the numbers the selection recorded" in stale
    assert f"deep/{ck}: not shown, its evaluation changed after the selection was made" in stale
    select(study)
    _, md_path = write_report(study)
    after = md_path.read_text()
    assert "no longer gives the numbers" not in after
    assert _results_row(after, "deep") != _results_row(before, "deep")
    new = EvalSummary.read(layout.eval_summary_path(folder))
    new_best = best(study, "deep")
    row = _results_row(after, "deep")
    if new_best == ck:
        assert f"{new.solved}/{new.total}" in row
    # diverse's own numbers and its difference against the base stay; against deep they follow deep's.
    assert _results_row(after, "diverse").split("|")[:7] == _results_row(before, "diverse").split("|")[:7]
    assert _results_row(after, "diverse") != _results_row(before, "diverse")


def test_results_only_through_the_records(tmp_path):
    """Issue 20 item 3: evaluations of a deleted checkpoint, of a run no longer in the config, or made after
    the selection are not shown as results; each is named in the appendix."""
    study = write_study(tmp_path, runs=("deep", "diverse", "gone"), steps=[2, 4, 6])
    deep_best = best(study, "deep")
    other = next(layout.checkpoint_name(s, 0) for s in (2, 4, 6) if layout.checkpoint_name(s, 0) != deep_best)
    shutil.rmtree(layout.checkpoints_dir(layout.run_dir(study, "deep")) / other)
    shutil.rmtree(layout.checkpoints_dir(layout.run_dir(study, "diverse")) / best(study, "diverse"))
    cfg = (study / "config.yaml").read_text()
    (study / "config.yaml").write_text(cfg.replace("  gone:\n    dataset: {source: 'builtin:gone'}\n", ""))
    # An evaluation made after the selection (a new checkpoint evaluated, selection not redone).
    d = layout.run_dir(study, "deep")
    late = layout.checkpoint_name(8, 0)
    (layout.checkpoints_dir(d) / late).mkdir(parents=True)
    write_eval(layout.eval_dir(d, late), EvalLabel(f"deep_{late}", "deep", late, 8, 0), 0.9)
    _, md_path = write_report(study)
    md = md_path.read_text()
    results = md.split("## Loss against pass@1")[0]
    matrix = md.split("## Problems")[1].split("## Failure kinds")[0]
    assert f"deep/{other}: not shown, its checkpoint folder was deleted" in md
    assert (
        "run gone: in the selection record but no longer in config.yaml; its 3 evaluations are not shown"
        in md
    )
    assert f"deep/{late}: not shown, not in the selection record" in md
    assert f"Run diverse: its selected checkpoint {best(study, 'diverse')} is not reported" in results
    assert "gone" not in results.split("### What is missing")[0] and "gone" not in matrix
    assert (
        "deep\n" not in matrix
        and "| deep 8 |" not in matrix
        and f"deep {other.split('-')[2]} |" not in matrix
    )
    assert "| diverse |" not in results and "| **deep** |" in results


def test_no_selection_record_no_results(tmp_path):
    study = write_study(tmp_path, steps=[2, 4])
    layout.selection_path(study).unlink()
    _, md_path = write_report(study)
    md = md_path.read_text()
    assert "No selection record (selection.json): no result is reported" in md
    assert "(selected)" not in md


# ---------------------------------------------------------------------------------------------- chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/setup-tests.sh installs it; CI always has it)",
)


def _flags(tmp_path: Path, name: str) -> list[str]:
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / ('profile-' + name)}",
    ]


# Headless Chromium will not make a window narrower than 500 px, so the page is measured inside an iframe of
# the wanted width (its own viewport: media queries and vw follow it); --allow-file-access-from-files lets the
# wrapper read the framed page's layout. The probe writes what it measured into the wrapper's title.
WRAPPER = """<!DOCTYPE html><html><head><title>probe</title><style>body{{margin:0}}iframe{{border:0}}</style>
</head><body><iframe id=f src="report.html" width={w} height={h}></iframe><script>
document.getElementById('f').addEventListener('load', () => {{
  const d = document.getElementById('f').contentDocument, w = d.defaultView;
  const box = e => {{ if (!e) return null; const r = e.getBoundingClientRect();
    return {{left: r.left, top: r.top, width: r.width, height: r.height}}; }};
  const grid = d.querySelector('.scroll');
  document.title = JSON.stringify({{
    vw: w.innerWidth, vh: w.innerHeight, page_width: d.documentElement.scrollWidth,
    results: box(d.querySelector('table')),
    figures: [...d.querySelectorAll('img')].map(i => ({{name: i.dataset.name, natural: i.complete ? i.naturalWidth : -1, ...box(i)}})),
    matrix: box(grid), matrix_scroll: grid ? [grid.scrollWidth, grid.clientWidth] : null,
    matrix_cells: d.querySelectorAll('table.grid td[class^=k-]').length,
    scripts: d.querySelectorAll('script').length, title: d.title,
  }});
}});
</script></body></html>"""


def measure(tmp_path: Path, page: Path, width: int, height: int = 800) -> dict:
    wrapper = page.parent / f"probe-{width}.html"
    wrapper.write_text(WRAPPER.format(w=width, h=height))
    dom = subprocess.run(
        [
            *_flags(tmp_path, f"m{width}"),
            "--allow-file-access-from-files",
            f"--window-size={max(width, 500) + 20},{height + 40}",
            "--virtual-time-budget=8000",
            "--dump-dom",
            wrapper.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    title = re.search(r"<title>(.*?)</title>", dom.stdout, re.DOTALL).group(1)
    assert title != "probe", "the probe did not run"
    return json.loads(html_unescape(title))


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


def screenshot(tmp_path: Path, page: Path, width: int, height: int, name: str) -> Path:
    wrapper = page.parent / f"shot-{width}.html"
    wrapper.write_text(WRAPPER.format(w=width, h=height))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    res = subprocess.run(
        [
            *_flags(tmp_path, f"s{width}"),
            "--allow-file-access-from-files",
            "--hide-scrollbars",
            f"--window-size={max(width, 500)},{height}",
            "--virtual-time-budget=8000",
            f"--screenshot={shot}",
            wrapper.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return shot


@needs_chromium
@pytest.mark.parametrize("width", [1280, 390])
def test_seed_scale_report_as_seen_in_chromium(tmp_path, width, capsys):
    """At desktop and phone width: the results table and the pass@1 figure start on the first screen, every
    figure decodes and fits the width, the page never scrolls sideways, the matrix scrolls in its own box."""
    study = write_study(tmp_path)
    html_path, _ = write_report(study)
    page = tmp_path / "alone" / "report.html"  # a folder of its own: nothing next to it can be loaded
    page.parent.mkdir()
    shutil.copy(html_path, page)
    m = measure(tmp_path, page, width)
    with capsys.disabled():
        print(f"\n{width}px: {json.dumps(m)}")
    assert m["vw"] == width and m["page_width"] <= width
    assert m["results"]["top"] < m["vh"] and m["results"]["width"] <= width
    first = m["figures"][0]
    assert first["name"] == "pass_at_step.png" and first["top"] < m["vh"]
    if width >= 1000:  # on a desktop screen the whole first figure shows with the table
        assert first["top"] + first["height"] <= m["vh"]
    assert len(m["figures"]) == 5
    for f in m["figures"]:
        assert f["natural"] > 100 and f["width"] > 0.5 * min(width, 800) and f["left"] + f["width"] <= width
    grid, (inner, outer) = m["matrix"], m["matrix_scroll"]
    assert grid["left"] >= 0 and grid["left"] + grid["width"] <= width and grid["height"] > 200
    assert inner > outer  # 37 models are wider than either screen: the box scrolls, the page does not
    assert m["matrix_cells"] == 41 * 37
    assert m["scripts"] == 0 and m["title"] == "codetune study report: scale"
    shot = screenshot(tmp_path, page, width, 1800 if width < 1000 else 1400, f"report-scale-{width}.png")
    shutil.copy(page, ARTIFACTS / "report-scale.html")  # the page itself, for a reviewer to open
    assert shot.stat().st_size > 20_000


@needs_chromium
def test_model_text_renders_as_text(tmp_path):
    """An answer holding <script> and </pre>, a title holding an <img onerror>: shown as text, nothing runs."""
    study = write_study(tmp_path, steps=[2, 4], hostile=True)
    html_path, md_path = write_report(study)
    text = html_path.read_text()
    assert "<script" not in text and "<img src=x" not in text and "<b>bold" not in text
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;&lt;/pre&gt;" in text
    md = md_path.read_text()
    assert "\\<img src=x" in md  # Markdown: the title's tag is backslash-escaped outside code
    page = tmp_path / "alone" / "report.html"
    page.parent.mkdir()
    shutil.copy(html_path, page)
    dom = subprocess.run(
        [*_flags(tmp_path, "x"), "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<title>codetune study report: scale</title>" in dom.stdout  # no script set it
    assert "<script" not in dom.stdout and '<img src="x"' not in dom.stdout and "<b>bold" not in dom.stdout
    assert (
        "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;/pre&gt;&lt;b&gt;bold&lt;/b&gt;" in dom.stdout
    )


def test_an_evaluation_redone_after_the_selection_is_not_a_result(tmp_path):
    """Its stage record's fingerprint is no longer the one the selection chained on (issue 20 item 2's case,
    as the report sees it): not shown, and said at the top when it is a selected checkpoint."""
    study = write_study(tmp_path, steps=[2, 4])
    ck = best(study, "deep")
    key = layout.eval_key("deep", ck)
    record(study, "eval", key, {"checkpoint": key, "benchmark": "another"})
    record(study, "eval", "base", {"model": "base", "benchmark": "another"})
    _, md_path = write_report(study)
    md = md_path.read_text()
    results = md.split("## Loss against pass@1")[0]
    assert (
        f"Run deep: its selected checkpoint {ck} is not reported (its evaluation was redone under other"
        in results
    )
    assert "The base model is not reported: its evaluation was redone under other settings" in results
    assert "| base model |" not in results and "| **deep** |" not in results and "| deep |" not in results
    assert (
        f"{key}: not shown, its evaluation was redone" in md
        and "base: not shown, its evaluation was redone" in md
    )
