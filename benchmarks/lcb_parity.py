"""Side by side: LiveCodeBench's own grader and `codetune score` on the same answers.

    python benchmarks/lcb_parity.py --lcb /path/to/LiveCodeBench --cases [--write-fixture]
    python benchmarks/lcb_parity.py --lcb /path/to/LiveCodeBench --generations study/eval/base/generations.json

`--cases` runs the answer sets of tests/parity_cases.py (extraction, grader, known): hand-written answers
that stress LiveCodeBench's fence rule and execution model, on real problems of tests/data and an A+B
problem. `--generations` adds generations files (LiveCodeBench's layout: [{"question_id", "code_list",
"output_list"?}]). For each answer the code is taken from the raw answer (`output_list`) by both extractors,
LiveCodeBench's `extract_code` and codetune's default (`lcb`) rule, or from `code_list`. LiveCodeBench's
`codegen_metrics` scores its extractions in a subprocess with the checkout on sys.path (its evaluation needs
only numpy and tqdm; the package __init__ files, which pull in pandas and datasets, are skipped), and
`codetune score` scores codetune's in another.

`--write-fixture` (with `--cases`) writes what LiveCodeBench decided, per sample, and its prompts for one
problem, to tests/data/livecodebench_verdicts.json, which tests/test_lcb_parity.py holds codetune to in CI
without LiveCodeBench. Regenerate it after changing tests/parity_cases.py, with a checkout at the commit
codetune follows (codetune.bench.prompts.LCB_COMMIT):

    git clone https://github.com/LiveCodeBench/LiveCodeBench /tmp/lcb && git -C /tmp/lcb checkout 28fef95
    python benchmarks/lcb_parity.py --lcb /tmp/lcb --cases --write-fixture

Prints per set: extraction agreement, verdict agreement, failure-kind agreement (wrong answer / time limit /
runtime error), every difference with its documented reason (parity_cases.DIFFERENCES, bench/scoring.py's
table) or UNEXPLAINED, and both graders' wall times; the last line is one JSON object with the numbers. Exit
status 1 when a difference is unexplained.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from codetune.bench.extract import extract_code
from codetune.bench.lcb import load_benchmark_file
from codetune.bench.prompts import LCB_COMMIT
from codetune.bench.scoring import RUNTIME_ERROR, TIMEOUT, WRONG_ANSWER
from codetune.records import PASSED

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"
CASES_FILE = REPO / "tests" / "parity_cases.py"
FIXTURE = REPO / "tests" / "data" / "livecodebench_verdicts.json"

# Runs in a fresh interpreter with the LiveCodeBench checkout first on sys.path.
_LCB_SIDE = r"""
import json, sys, time, types
from pathlib import Path

lcb, job_path, out_path = sys.argv[1:4]
sys.path.insert(0, lcb)
# Import the submodules without the package __init__ files (they import pandas and datasets).
for pkg in ("lcb_runner", "lcb_runner.evaluation", "lcb_runner.utils", "lcb_runner.benchmarks",
            "lcb_runner.prompts"):
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
prompts = None
if job.get("prompt_row"):  # LiveCodeBench's prompts for one problem, in both styles codetune builds
    from lcb_runner.prompts.code_generation import format_prompt_generation

    p = CodeGenerationProblem(**job["prompt_row"])
    prompts = {
        "codeqwen": format_prompt_generation(p, LMStyle.CodeQwenInstruct),
        "generic": format_prompt_generation(p, LMStyle.OpenAIChat),
    }
Path(out_path).write_text(
    json.dumps({"loader": loader, "seconds": seconds, "problems": out, "prompts": prompts})
)
"""


def load_cases():
    """tests/parity_cases.py, read as a plain module (it imports nothing from the tests)."""
    spec = importlib.util.spec_from_file_location("parity_cases", CASES_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def case_sets(cases, benchmark_rows: list[dict]) -> list[dict]:
    """The sets of parity_cases as {name, rows, generations, names}: `names[i]` names sample i in order."""
    by_id = {r["question_id"]: r for r in benchmark_rows}
    extraction = {**cases.ADVERSARIAL, **{f"lcb_{k}": a for k, (a, _) in cases.EXTRACTION_CASES.items()}}
    grader = list(cases.GRADER_CASES)
    known_gens, known_names = [], []
    for qid, answers in cases.known_answers().items():
        known_gens.append({"question_id": qid, "code_list": list(answers.values())})
        known_names += [f"{qid}:{k}" for k in answers]
    return [
        {
            "name": "extraction",
            "rows": [by_id[cases.ADVERSARIAL_PROBLEM]],
            "generations": [
                {"question_id": cases.ADVERSARIAL_PROBLEM, "output_list": list(extraction.values())}
            ],
            "names": list(extraction),
        },
        {
            "name": "grader",
            "rows": [cases.APB_ROW],
            "generations": [
                {
                    "question_id": cases.APB_ROW["question_id"],
                    "code_list": [cases.GRADER_CASES[n][0] for n in grader],
                }
            ],
            "names": grader,
        },
        {
            "name": "known",
            "rows": [by_id[g["question_id"]] for g in known_gens],
            "generations": known_gens,
            "names": known_names,
        },
    ]


def codetune_generations(gens: list[dict]) -> tuple[dict[str, list[str | None]], list[dict]]:
    """codetune's extraction of each answer (None: no code) and the generations file `codetune score` reads."""
    codes: dict[str, list[str | None]] = {}
    out = []
    for g in gens:
        if g.get("output_list") is not None:
            got = [extract_code(o, "lcb") for o in g["output_list"]]
        else:
            got = list(g["code_list"])
        codes[g["question_id"]] = got
        out.append(
            {
                "question_id": g["question_id"],
                "code_list": [c or "" for c in got],
                "extraction_failed": [c is None for c in got],
            }
        )
    return codes, out


def _lcb_job(
    lcb: Path, rows: list[dict], gens: list[dict], timeout: int, workers: int, prompt_row: dict | None = None
) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp, "job.json"), Path(tmp, "out.json")
        job.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "generations": gens,
                    "timeout": timeout,
                    "workers": workers,
                    "prompt_row": prompt_row,
                }
            )
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


def lcb_samples(lcb_out: dict, names: list[str] | None) -> list[dict]:
    """LiveCodeBench's decision on each sample, flat, as the fixture stores it."""
    out = []
    for lp in lcb_out["problems"]:
        for i, res in enumerate(lp["results"]):
            meta = lp["metadata"][i]
            out.append(
                {
                    "name": names[len(out)] if names else f"{lp['question_id']}[{i}]",
                    "question_id": lp["question_id"],
                    "sample": i,
                    "code": lp["codes"][i],
                    "passed": bool(res) and all(r is True for r in res),
                    "results": res,
                    "error_code": meta.get("error_code"),
                    "error_message": meta.get("error_message"),
                    "output": str(meta.get("output", ""))[:200],
                }
            )
    return out


def codetune_score(benchmark: Path, gens: list[dict], timeout: int, workers: int) -> tuple[list[dict], float]:
    """`codetune score` on a generations file, as a user runs it: (its scores, the command's wall time)."""
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


def _heuristic_reason(lcb: dict, verdicts: list[str]) -> str:
    """For answers outside parity_cases: the documented difference (bench/scoring.py's table) a disagreement
    falls under, or UNEXPLAINED."""
    last = verdicts[-1] if verdicts else ""
    if last == "memory_limit":
        return "memory cap: codetune bounds memory (benchmark.memory_mb), LiveCodeBench sets none"
    if last == "timeout" and "timeout occured" in lcb.get("output", ""):
        return "time limit swallowed by the program: both fail, with different verdicts"
    if lcb["results"] and lcb["results"][-1] == -1:
        return "LiveCodeBench's whole-sample global timeout"
    return "UNEXPLAINED"


# LiveCodeBench's error codes (testing_util.py) as the failure kinds codetune's verdicts name. -1 is a
# compile error and -5 (TestRunnerError) a worker that died: the solution ended its own process (os._exit,
# an uncaught KeyboardInterrupt); both are the program's runtime errors to a reader.
LCB_KINDS = {-1: RUNTIME_ERROR, -2: WRONG_ANSWER, -3: TIMEOUT, -4: RUNTIME_ERROR, -5: RUNTIME_ERROR}


def lcb_kind(error_code: int | None, passed: bool) -> str:
    return PASSED if passed else LCB_KINDS.get(error_code, RUNTIME_ERROR)


def codetune_kind(verdicts: list[str], extraction_failed: bool) -> str:
    """The last verdict; no extracted code counts as a runtime error, what LiveCodeBench's run of "" gives."""
    if extraction_failed:
        return RUNTIME_ERROR
    return verdicts[-1] if verdicts else RUNTIME_ERROR


def compare(
    name: str,
    lcb: list[dict],
    scores: list[dict],
    ours_codes: dict,
    differences: dict[str, str] | None = None,
) -> dict:
    """Sample by sample: LiveCodeBench's decisions (lcb_samples) against codetune's scores. A difference is
    explained by `differences` (sample name -> reason) or, for answers outside the cases, by a heuristic."""
    by_q = {s["question_id"]: s for s in scores}
    agree = ext_agree = kind_agree = 0
    disagreements, per_sample = [], []
    for ls in lcb:
        s, i = by_q[ls["question_id"]], ls["sample"]
        lcb_pass, ours_pass = ls["passed"], bool(s["graded_list"][i])
        same_code = (ours_codes[ls["question_id"]][i] or "") == ls["code"]
        theirs = lcb_kind(ls["error_code"], lcb_pass)
        ours = codetune_kind(s["verdicts"][i], s["extraction_failed"][i])
        agree += lcb_pass == ours_pass
        ext_agree += same_code
        kind_agree += theirs == ours
        row = {
            "name": ls["name"],
            "question_id": ls["question_id"],
            "sample": i,
            "livecodebench_passed": lcb_pass,
            "codetune_passed": ours_pass,
            "extraction_same": same_code,
            "livecodebench_kind": theirs,
            "codetune_kind": ours,
        }
        per_sample.append(row)
        if lcb_pass == ours_pass and theirs == ours and same_code:
            continue
        if differences is not None:
            reason = differences.get(ls["name"], "UNEXPLAINED")
        else:
            reason = _heuristic_reason(ls, s["verdicts"][i])
        disagreements.append(
            row
            | {
                "livecodebench": {k: ls[k] for k in ("error_code", "error_message", "output")},
                "codetune": {"verdicts": s["verdicts"][i], "metadata": s["metadata"][i]},
                "reason": reason,
            }
        )
    return {
        "model": name,
        "samples": len(lcb),
        "agree": agree,
        "extraction_agree": ext_agree,
        "failure_kind_agree": kind_agree,
        "disagreements": disagreements,
        "per_sample": per_sample,
    }


def _benchmark_file(rows: list[dict], tmp: Path, default: Path, default_ids: set[str]) -> Path:
    """The benchmark `codetune score` reads for `rows`: the benchmark file itself when they come from it."""
    if all(r["question_id"] in default_ids for r in rows):
        return default
    path = tmp / f"bench-{len(list(tmp.iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lcb", type=Path, required=True, help="a LiveCodeBench checkout (never committed here)")
    ap.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    ap.add_argument("--generations", type=Path, nargs="*", default=[], help="generations.json files")
    ap.add_argument("--cases", action="store_true", help="run the answer sets of tests/parity_cases.py")
    ap.add_argument(
        "--write-fixture",
        nargs="?",
        type=Path,
        const=FIXTURE,
        help=f"with --cases: write LiveCodeBench's decisions to this file (default {FIXTURE.relative_to(REPO)})",
    )
    ap.add_argument(
        "--timeout",
        type=int,
        help="seconds per test, both graders (default: parity_cases.TIMEOUT_S with --cases, else 6)",
    )
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--details", type=Path, help="write every sample's comparison here (JSON)")
    args = ap.parse_args()
    if not (args.lcb / "lcb_runner" / "evaluation" / "testing_util.py").is_file():
        sys.exit(f"{args.lcb}: not a LiveCodeBench checkout (no lcb_runner/evaluation/testing_util.py)")
    if not args.generations and not args.cases:
        sys.exit("nothing to compare: give --cases and/or --generations FILE ...")
    if args.write_fixture and not args.cases:
        sys.exit("--write-fixture records the answer sets of --cases: add --cases")
    head = subprocess.run(["git", "-C", str(args.lcb), "rev-parse", "HEAD"], capture_output=True, text=True)
    commit = head.stdout.strip() or None
    if args.write_fixture and commit != LCB_COMMIT:
        sys.exit(
            f"{args.lcb} is at {commit}; the fixture records LiveCodeBench at {LCB_COMMIT} (git checkout it)"
        )
    benchmark_rows = [
        json.loads(line) for line in args.benchmark.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    default_ids = {r["question_id"] for r in benchmark_rows}

    sets: list[dict] = []
    cases = load_cases() if args.cases else None
    if args.timeout is None:
        args.timeout = cases.TIMEOUT_S if cases else 6
    if cases is not None:
        sets += case_sets(cases, benchmark_rows)
    for path in args.generations:
        gens = json.loads(path.read_text(encoding="utf-8"))
        by_id = {r["question_id"]: r for r in benchmark_rows}
        sets.append(
            {
                "name": str(path),
                "rows": [by_id[g["question_id"]] for g in gens],
                "generations": gens,
                "names": None,
            }
        )

    reports, fixture_sets, prompts = [], {}, None
    totals = {"lcb_seconds": 0.0, "lcb_process_seconds": 0.0, "codetune_seconds": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for st in sets:
            bench = _benchmark_file(st["rows"], Path(tmp), args.benchmark, default_ids)
            rows = [dict(r) for r in st["rows"]]
            tests = {p.question_id: p for p in load_benchmark_file(bench)}
            for r in rows:  # the tests as codetune reads them, for when LCB's loader is unavailable
                p = tests[r["question_id"]]
                r["_tests"] = {
                    "inputs": [t.input for t in p.tests],
                    "outputs": [t.output for t in p.tests],
                    "fn_name": p.fn_name,
                }
            prompt_row = None
            if st["name"] == "extraction":
                prompt_row = {k: v for k, v in st["rows"][0].items()}
                # The shared file has a null date and "" for no private tests; LCB's loader needs both.
                prompt_row.update(contest_date="2024-08-03T00:00:00", private_test_cases="[]")
            lcb_out, lcb_wall = _lcb_job(
                args.lcb, rows, st["generations"], args.timeout, args.workers, prompt_row
            )
            prompts = lcb_out.get("prompts") or prompts
            ours_codes, ours_gens = codetune_generations(st["generations"])
            scores, ours_wall = codetune_score(bench, ours_gens, args.timeout, args.workers)
            decided = lcb_samples(lcb_out, st["names"])
            fixture_sets[st["name"]] = decided
            r = compare(st["name"], decided, scores, ours_codes, cases.DIFFERENCES if st["names"] else None)
            r.update(lcb_seconds=round(lcb_out["seconds"], 2), lcb_process_seconds=round(lcb_wall, 2))
            r.update(codetune_seconds=round(ours_wall, 2), lcb_loader=lcb_out["loader"])
            totals["lcb_seconds"] += lcb_out["seconds"]
            totals["lcb_process_seconds"] += lcb_wall
            totals["codetune_seconds"] += ours_wall
            reports.append(r)
            print(
                f"{st['name']}: verdicts agree on {r['agree']}/{r['samples']} samples, extraction on "
                f"{r['extraction_agree']}/{r['samples']}, failure kind (WA/TLE/RE) on "
                f"{r['failure_kind_agree']}/{r['samples']}; LiveCodeBench codegen_metrics {r['lcb_seconds']:.1f}s "
                f"({r['lcb_process_seconds']:.1f}s with start-up), codetune score {r['codetune_seconds']:.1f}s "
                "(whole command)"
            )
            for d in r["disagreements"]:
                print(
                    f"  {d['name']}: LiveCodeBench {'pass' if d['livecodebench_passed'] else 'fail'} "
                    f"({d['livecodebench']['error_message'] or 'all passed'}, kind {d['livecodebench_kind']}), "
                    f"codetune {'pass' if d['codetune_passed'] else 'fail'} "
                    f"({(d['codetune']['verdicts'] or ['-'])[-1]}, kind {d['codetune_kind']}), extraction "
                    f"{'same' if d['extraction_same'] else 'DIFFERS'}: {d['reason']}"
                )
    if args.details:
        args.details.write_text(json.dumps(reports, indent=1))
    if args.write_fixture:
        fixture = {
            "about": "LiveCodeBench's own decisions on the answer sets of tests/parity_cases.py; "
            "regenerate with the command below (benchmarks/lcb_parity.py's docstring)",
            "regenerate": "python benchmarks/lcb_parity.py --lcb LIVECODEBENCH_CHECKOUT --cases --write-fixture",
            "livecodebench_commit": commit,
            "loader": reports[0]["lcb_loader"],
            "timeout_s": args.timeout,
            "prompts": {"question_id": cases.ADVERSARIAL_PROBLEM, **(prompts or {})},
            "sets": {
                k: [{f: v for f, v in s.items() if f != "output"} | {"output": s["output"]} for s in v]
                for k, v in fixture_sets.items()
                if not k.endswith(".json")
            },
        }
        args.write_fixture.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.write_fixture}")
    unexplained = sum(d["reason"] == "UNEXPLAINED" for r in reports for d in r["disagreements"])
    summary = {
        "sets": [
            {
                k: r[k]
                for k in ("model", "samples", "agree", "extraction_agree", "failure_kind_agree")
                + ("lcb_seconds", "codetune_seconds")
            }
            | {"disagreements": [{k: d[k] for k in ("name", "reason")} for d in r["disagreements"]]}
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
