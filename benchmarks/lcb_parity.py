"""Side by side: LiveCodeBench's own grader and `codetune score` on the same generations.

    python benchmarks/lcb_parity.py --lcb /path/to/LiveCodeBench \\
        --generations study/eval/base/generations.json [more generations.json ...] [--adversarial]

For each generations file (LiveCodeBench's layout: [{"question_id", "code_list", "output_list"?}]) the code
is taken from each raw answer (`output_list`) by both extractors, LiveCodeBench's `extract_code` and
codetune's default (`lcb`) rule, or from `code_list` when there are no raw answers. LiveCodeBench's
`codegen_metrics` scores its extractions in a subprocess with the checkout on sys.path (its evaluation
needs only numpy and tqdm; the package __init__ files, which pull in pandas and datasets, are skipped), and
`codetune score` scores codetune's in another. `--adversarial` adds hand-written answers that stress
extraction (no fence, one fence, unclosed, nested, ```py, ~~~, fences inside strings, </think> before and
after, a draft then a corrected block, CRLF, indentation) on one benchmark problem.

Prints per sample file: extraction agreement, verdict agreement, every disagreement with its documented
reason (bench/scoring.py's table) or UNEXPLAINED, and both graders' wall times; the last line is one JSON
object with the numbers. Exit status 1 when a disagreement is unexplained.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codetune.bench.extract import extract_code
from codetune.bench.lcb import load_benchmark_file

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"

# Runs in a fresh interpreter with the LiveCodeBench checkout first on sys.path.
_LCB_SIDE = r"""
import json, sys, time, types
from pathlib import Path

lcb, job_path, out_path = sys.argv[1:4]
sys.path.insert(0, lcb)
# Import the submodules without the package __init__ files (they import pandas and datasets).
for pkg in ("lcb_runner", "lcb_runner.evaluation", "lcb_runner.utils", "lcb_runner.benchmarks"):
    m = types.ModuleType(pkg)
    m.__path__ = [str(Path(lcb, *pkg.split(".")))]
    sys.modules[pkg] = m
from lcb_runner.lm_styles import LMStyle
from lcb_runner.utils.extraction_utils import extract_code
from lcb_runner.evaluation.compute_code_generation_metrics import codegen_metrics

job = json.loads(Path(job_path).read_text())
try:  # LiveCodeBench's own row parsing, when `datasets` (imported by that module) is there
    from lcb_runner.benchmarks.code_generation import CodeGenerationProblem

    def sample(row):
        row = {k: v for k, v in row.items() if k != "_tests"}
        # The shared file has null dates and "" for no private tests; LCB's loader needs a date and JSON.
        row["contest_date"] = row.get("contest_date") or "2000-01-01T00:00:00"
        row["private_test_cases"] = row.get("private_test_cases") or "[]"
        return CodeGenerationProblem(**row).get_evaluation_sample()
    loader = "lcb_runner.benchmarks.code_generation"
except ImportError:
    def sample(row):
        return {"input_output": json.dumps(row["_tests"])}
    loader = "codetune's parse (LiveCodeBench's loader needs `datasets`)"

rows = {r["question_id"]: r for r in job["rows"]}
samples, codes = [], []
for g in job["generations"]:
    if g.get("output_list") is not None:
        # CodeQwenInstruct: one of the styles for which extract_code applies its plain last-two-fences rule.
        codes.append([extract_code(o, LMStyle.CodeQwenInstruct) for o in g["output_list"]])
    else:
        codes.append([c or "" for c in g["code_list"]])
    samples.append(sample(rows[g["question_id"]]))
# codegen_metrics needs the same number of answers for every problem: one call per answer count.
by_count = {}
for i, c in enumerate(codes):
    by_count.setdefault(len(c), []).append(i)
results, meta = {}, {}
t0 = time.perf_counter()
for idx in by_count.values():
    _, res, met = codegen_metrics(
        [samples[i] for i in idx], [codes[i] for i in idx], k_list=[1],
        num_process_evaluate=job["workers"], timeout=job["timeout"],
    )
    for j, i in enumerate(idx):
        results[i], meta[i] = res[j], met[j]
seconds = time.perf_counter() - t0
out = []
for i, g in enumerate(job["generations"]):
    out.append({
        "question_id": g["question_id"],
        "codes": codes[i],
        "results": results[i],
        "metadata": [json.loads(m) for m in meta[i]],
    })
Path(out_path).write_text(json.dumps({"loader": loader, "seconds": seconds, "problems": out}))
"""

ADVERSARIAL_PROBLEM = "abc365_a"  # Leap Year: Y -> 365 or 366
_GOOD = "y = int(input())\nprint(366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365)"
_BAD = "print(365)"
ADVERSARIAL = {
    "no_fence": _GOOD + "\n",
    "one_fence_unclosed": "Here is the code:\n```python\n" + _GOOD + "\n",
    "one_block": "```python\n" + _GOOD + "\n```\n",
    "untagged_block": "```\n" + _GOOD + "\n```",
    "py_tag": "```py\n" + _GOOD + "\n```\n",
    "tilde_fence": "~~~python\n" + _GOOD + "\n~~~\n",
    "draft_then_corrected": "Draft:\n```python\n"
    + _BAD
    + "\n```\nOops, leap years:\n```python\n"
    + _GOOD
    + "\n```\n",
    "corrected_then_draft": "```python\n"
    + _GOOD
    + "\n```\nA shorter wrong one:\n```python\n"
    + _BAD
    + "\n```\n",
    "nested_fences": "````markdown\n```python\n" + _GOOD + "\n```\n````\n",
    "fence_inside_string": "```python\nfence = '```'\n" + _GOOD + "\n```\n",
    "fence_in_comment_after": "```python\n" + _GOOD + "\n# end of ``` block\n```\n",
    "inline_backticks_before": "Use ```input()``` to read.\n```python\n" + _GOOD + "\n```\n",
    "think_then_block": "<think>\nmaybe ```print(1)``` no\n</think>\n```python\n" + _GOOD + "\n```\n",
    "block_in_think_only": "<think>\n```python\n" + _GOOD + "\n```\n</think>\nThe answer is above.",
    "think_block_then_answer_block": "<think>\n```python\n"
    + _BAD
    + "\n```\n</think>\n```python\n"
    + _GOOD
    + "\n```",
    "crlf": ("```python\r\n" + _GOOD.replace("\n", "\r\n") + "\r\n```\r\n"),
    "indented_fences": "  ```python\n  " + _GOOD.replace("\n", "\n  ") + "\n  ```\n",
    "indented_code_in_block": "```python\nif True:\n    " + _GOOD.replace("\n", "\n    ") + "\n```\n",
    "text_on_fence_lines": "Code: ```python\n" + _GOOD + "\n``` done.\n",
    "empty_block": "```python\n```\n",
    "three_fences": "```python\n" + _GOOD + "\n```\n```\n",
    "main_guard_block": "```python\ndef main():\n    "
    + _GOOD.replace("\n", "\n    ")
    + "\nif __name__ == '__main__':\n    main()\n```\n",
    "empty_answer": "",
}


def _lcb_job(lcb: Path, rows: list[dict], gens: list[dict], timeout: int, workers: int) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp, "job.json"), Path(tmp, "out.json")
        job.write_text(
            json.dumps({"rows": rows, "generations": gens, "timeout": timeout, "workers": workers})
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _LCB_SIDE, str(lcb), str(job), str(out)],
            cwd=lcb,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.is_file():
            sys.exit(f"LiveCodeBench's grader failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text()), wall


def _codetune_score(
    benchmark: Path, gens: list[dict], timeout: int, workers: int
) -> tuple[list[dict], float]:
    with tempfile.TemporaryDirectory() as tmp:
        g, out = Path(tmp, "generations.json"), Path(tmp, "scores.json")
        g.write_text(json.dumps(gens))
        cmd = [
            sys.executable,
            "-m",
            "codetune",
            "score",
            "--benchmark",
            str(benchmark),
            "--generations",
            str(g),
        ]
        cmd += ["--out", str(out), "--timeout", str(timeout), "--workers", str(workers)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"codetune score failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text()), wall


def _reason(lcb_res: list, lcb_meta: dict, verdicts: list[str]) -> str:
    """The documented difference (bench/scoring.py's table) a disagreement falls under, or UNEXPLAINED."""
    last = verdicts[-1] if verdicts else ""
    if last == "memory_limit":
        return "memory cap: codetune bounds memory (benchmark.memory_mb), LiveCodeBench sets none"
    if last == "timeout" and "timeout occured" in str(lcb_meta.get("output", "")):
        return "time limit swallowed by the program: both fail, with different verdicts"
    if lcb_res and lcb_res[-1] == -1:
        return "LiveCodeBench's whole-sample global timeout"
    return "UNEXPLAINED"


def _failure_code(meta: dict, passed: bool) -> int:
    """0 for a pass, else LiveCodeBench's error code (-2 wrong answer, -3 time limit, -4 runtime error);
    codetune's extraction failure (-1, never run) counts as -4, what LiveCodeBench's run of "" gives."""
    if passed:
        return 0
    code = int(meta.get("error_code", -4))
    return -4 if code == -1 else code


def compare(name: str, gens: list[dict], lcb_out: dict, scores: list[dict], ours_codes: dict) -> dict:
    by_q = {s["question_id"]: s for s in scores}
    n = agree = ext_agree = code_agree = 0
    disagreements, per_sample = [], []
    for lp in lcb_out["problems"]:
        q = lp["question_id"]
        s = by_q[q]
        for i, res in enumerate(lp["results"]):
            n += 1
            lcb_pass = bool(res) and all(r is True for r in res)
            ours_pass = bool(s["graded_list"][i])
            ours_code = ours_codes[q][i]
            same_code = (ours_code or "") == lp["codes"][i]
            ext_agree += same_code
            same_kind = _failure_code(lp["metadata"][i], lcb_pass) == _failure_code(
                s["metadata"][i], ours_pass
            )
            code_agree += same_kind
            per_sample.append(
                {
                    "question_id": q,
                    "sample": i,
                    "livecodebench_passed": lcb_pass,
                    "codetune_passed": ours_pass,
                    "extraction_same": same_code,
                    "failure_kind_same": same_kind,
                }
            )
            if lcb_pass == ours_pass:
                agree += 1
                continue
            disagreements.append(
                {
                    "model": name,
                    "question_id": q,
                    "sample": i,
                    "livecodebench": {"passed": lcb_pass, "results": res, "metadata": lp["metadata"][i]},
                    "codetune": {
                        "passed": ours_pass,
                        "verdicts": s["verdicts"][i],
                        "metadata": s["metadata"][i],
                    },
                    "reason": _reason(res, lp["metadata"][i], s["verdicts"][i]),
                }
            )
    return {
        "model": name,
        "samples": n,
        "agree": agree,
        "extraction_agree": ext_agree,
        "failure_kind_agree": code_agree,
        "disagreements": disagreements,
        "per_sample": per_sample,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lcb", type=Path, required=True, help="a LiveCodeBench checkout (never committed here)")
    ap.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    ap.add_argument("--generations", type=Path, nargs="*", default=[], help="generations.json files")
    ap.add_argument("--adversarial", action="store_true", help="add the hand-written extraction cases")
    ap.add_argument("--timeout", type=int, default=6, help="seconds per test, both graders")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--details", type=Path, help="write every sample's comparison here (JSON)")
    args = ap.parse_args()
    if not (args.lcb / "lcb_runner" / "evaluation" / "testing_util.py").is_file():
        sys.exit(f"{args.lcb}: not a LiveCodeBench checkout (no lcb_runner/evaluation/testing_util.py)")
    if not args.generations and not args.adversarial:
        sys.exit("nothing to compare: give --generations FILE ... and/or --adversarial")
    raw_rows = {}
    for line in args.benchmark.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            raw_rows[row["question_id"]] = row
    problems = {p.question_id: p for p in load_benchmark_file(args.benchmark)}
    for q, p in problems.items():  # the tests as codetune reads them, for when LCB's loader is unavailable
        raw_rows[q]["_tests"] = {
            "inputs": [t.input for t in p.tests],
            "outputs": [t.output for t in p.tests],
            "fn_name": p.fn_name,
        }

    sets: list[tuple[str, list[dict]]] = []
    for path in args.generations:
        sets.append((str(path), json.loads(path.read_text(encoding="utf-8"))))
    if args.adversarial:
        sets.append(
            ("adversarial", [{"question_id": ADVERSARIAL_PROBLEM, "output_list": list(ADVERSARIAL.values())}])
        )

    reports = []
    totals = {"lcb_seconds": 0.0, "lcb_process_seconds": 0.0, "codetune_seconds": 0.0}
    for name, gens in sets:
        ours_codes: dict[str, list[str | None]] = {}
        ours_gens = []
        for g in gens:
            if g.get("output_list") is not None:
                codes = [extract_code(o, "lcb") for o in g["output_list"]]
            else:
                codes = list(g["code_list"])
            ours_codes[g["question_id"]] = codes
            ours_gens.append(
                {
                    "question_id": g["question_id"],
                    "code_list": [c or "" for c in codes],
                    "extraction_failed": [c is None for c in codes],
                }
            )
        rows = [raw_rows[g["question_id"]] for g in gens]
        lcb_out, lcb_wall = _lcb_job(args.lcb, rows, gens, args.timeout, args.workers)
        scores, ours_wall = _codetune_score(args.benchmark, ours_gens, args.timeout, args.workers)
        r = compare(name, gens, lcb_out, scores, ours_codes)
        r.update(lcb_seconds=round(lcb_out["seconds"], 2), lcb_process_seconds=round(lcb_wall, 2))
        r.update(codetune_seconds=round(ours_wall, 2), lcb_loader=lcb_out["loader"])
        totals["lcb_seconds"] += lcb_out["seconds"]
        totals["lcb_process_seconds"] += lcb_wall
        totals["codetune_seconds"] += ours_wall
        reports.append(r)
        print(
            f"{name}: verdicts agree on {r['agree']}/{r['samples']} samples, extraction on "
            f"{r['extraction_agree']}/{r['samples']}, failure kind (WA/TLE/RE) on "
            f"{r['failure_kind_agree']}/{r['samples']}; LiveCodeBench codegen_metrics {r['lcb_seconds']:.1f}s "
            f"({r['lcb_process_seconds']:.1f}s with start-up), codetune score {r['codetune_seconds']:.1f}s "
            "(whole command)"
        )
        for d in r["disagreements"]:
            lm = d["livecodebench"]["metadata"]
            print(
                f"  {d['question_id']}[{d['sample']}]: LiveCodeBench {'pass' if d['livecodebench']['passed'] else 'fail'}"
                f" ({lm.get('error_message', 'all passed')}), codetune "
                f"{'pass' if d['codetune']['passed'] else 'fail'} ({(d['codetune']['verdicts'] or ['-'])[-1]}): "
                f"{d['reason']}"
            )
    if args.details:
        args.details.write_text(json.dumps(reports, indent=1))
    unexplained = sum(d["reason"] == "UNEXPLAINED" for r in reports for d in r["disagreements"])
    summary = {
        "sets": [
            {
                k: r[k]
                for k in ("model", "samples", "agree", "extraction_agree", "failure_kind_agree")
                + ("lcb_seconds", "codetune_seconds")
            }
            | {
                "disagreements": [
                    {k: d[k] for k in ("question_id", "sample", "reason")} for d in r["disagreements"]
                ]
            }
            for r in reports
        ],
        "samples": sum(r["samples"] for r in reports),
        "agree": sum(r["agree"] for r in reports),
        "extraction_agree": sum(r["extraction_agree"] for r in reports),
        "failure_kind_agree": sum(r["failure_kind_agree"] for r in reports),
        "unexplained": unexplained,
        "lcb_seconds": round(totals["lcb_seconds"], 2),
        "lcb_process_seconds": round(totals["lcb_process_seconds"], 2),
        "codetune_seconds": round(totals["codetune_seconds"], 2),
        "timeout_s": args.timeout,
        "workers": args.workers,
    }
    print(json.dumps(summary))
    sys.exit(1 if unexplained else 0)


if __name__ == "__main__":
    main()
