"""What several test modules share: datasets and study configs for the tiny model, random LoRA adapters, the
seed report's two quoted answers, a synthetic study folder written from codetune's records, and helpers for
watching processes. Test modules import these from here, never from one another; fixtures live in conftest.py."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import yaml

from codetune.bench.evaluate import EvalLabel
from codetune.bench.lcb import Problem, parse_row
from codetune.bench.scoring import summarize_scores
from codetune.config import StudyConfig, parse_config
from codetune.layout import (
    ADAPTER_CONFIG_FILE,
    base_eval_dir,
    checkpoint_name,
    checkpoints_dir,
    eval_dir,
    eval_summary_path,
    metrics_path,
    run_dir,
    run_summary_path,
    scores_path,
)
from codetune.records import EvalSummary, MetricsRow, ScoreEntry, write_list
from codetune.train.summary import summarize

REPO = Path(__file__).resolve().parents[1]
# The 41 real LiveCodeBench problems of the seed study, copied into the repository (origin: tests/data/README.md).
SEED_BENCHMARK = REPO / "tests" / "data" / "lcb_release_v5_atcoder_easy_2408_2502.jsonl"

# ------------------------------------------------------------------------------------------------ datasets


def naholav_row(problem: int, solution: int, split: str | None = "train", **extra) -> dict:
    """One row shaped like Naholav/CodeGen-Deep-5K: input, output (<think> then code), solution, split, ..."""
    code = f"n = int(input())\nprint(n * {problem} + {solution})"
    row = {
        "id": f"p{problem}-s{solution}",
        "input": f"Problem {problem}\n\nGiven an integer N, print N times {problem} plus something.\n",
        "output": f"<think>\nMultiply by {problem}.\n</think>\n```python\n{code}\n```",
        "solution": code,
        "difficulty": "easy",
        "source": "test",
        "license": "cc-by-4.0",
        "dataset": "fixture",
    }
    if split is not None:
        row["split"] = split
    row.update(extra)
    return row


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """`rows` as JSON Lines at `path`; returns `path`."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def shaped_rows(split_of=lambda p: "train", with_split: bool = True) -> list[dict]:
    """3 problems x 5 solutions + 4 problems x 1 solution = 19 rows, 7 problems."""
    rows = []
    for p in range(7):
        for s in range(5 if p < 3 else 1):
            rows.append(naholav_row(p, s, split_of(p) if with_split else None))
    return rows


TRAIN_ROWS = 28  # write_naholav_jsonl's default train rows: with batch_size 4, 7 steps per epoch


def write_naholav_jsonl(path: Path, *, n_train: int = TRAIN_ROWS, n_valid: int = 6, n_test: int = 6) -> Path:
    """A small dataset in the Naholav CodeGen schema: input, output (reasoning + code), solution, split, id;
    solutions of 1 to 8 lines, so rows differ in length."""
    rng = random.Random(0)
    rows = []
    for i in range(n_train + n_valid + n_test):
        split = "train" if i < n_train else "valid" if i < n_train + n_valid else "test"
        body = "".join(f"    print(n * {i} + {k})\n" for k in range(rng.randint(1, 8)))
        sol = f"def solve():\n    n = int(input())\n{body}"
        rows.append(
            {
                "id": f"p{i}",
                "input": f"Problem {i}: read n and print the values. " + "Input Output " * rng.randint(1, 6),
                "output": f"<think>multiply by {i}</think>\n```python\n{sol}```",
                "solution": sol,
                "split": split,
            }
        )
    return write_jsonl(path, rows)


def seed_problems() -> list[Problem]:
    """SEED_BENCHMARK's problems (public tests only), read as codetune reads a benchmark file."""
    lines = SEED_BENCHMARK.read_text(encoding="utf-8").splitlines()
    return [parse_row(json.loads(line)) for line in lines if line.strip()]


# ------------------------------------------------------------------------------------------------ configs


def write_config(folder: Path, model_dir: Path, *, data: str = "data.jsonl", **training) -> Path:
    """folder/study.yaml for one LoRA run `a` on `model_dir` (CPU, float32, r 4) over folder/`data` (written by
    write_naholav_jsonl unless it exists): 6 steps of batch 4, evaluated and saved every 2; `training` keys
    override. Returns the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / data).exists():
        write_naholav_jsonl(folder / data)
    t = {"max_steps": 6, "batch_size": 4, "eval_every": 2, "save_every": 2, "learning_rate": 1e-3}
    t.update({"max_seq_length": 256, **training})
    doc = {
        "name": "t",
        "output_dir": "out",
        "model": {"source": str(model_dir), "device": "cpu", "dtype": "float32"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.1},
        "training": t,
        "runs": {"a": {"dataset": {"source": data}, "system_prompt": "You are a coder."}},
    }
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


EVAL_SYSTEM = "You are an expert Python programmer."  # bench_config's system prompt of run r1


def prepare_study_run(cfg: StudyConfig, run: str, tokenizer):
    """prepare_run_data for the study's run `run`, with the values training gives it (train/run.py)."""
    from codetune.data.prepare import prepare_run_data

    t = cfg.training
    return prepare_run_data(
        run,
        cfg.run(run),
        tokenizer,
        seed=t.seed,
        max_length=t.max_seq_length,
        overlong=t.overlong,
        base_dir=cfg.base_dir,
    )


def bench_config(tmp_path: Path, model_dir: Path, bench: Path, **bench_over) -> StudyConfig:
    """A study for evaluating `model_dir` (CPU, float32) on the first 3 problems of the benchmark file
    `bench`, 8 new tokens in batches of 2; one run r1 (never trained here), output in tmp_path/study;
    `bench_over` replaces benchmark keys."""
    bench_cfg = {
        "source": str(bench),
        "max_problems": 3,
        "generation": {"max_new_tokens": 8, "batch_size": 2},
        "timeout_s": 2.0,
        **bench_over,
    }
    return parse_config(
        {
            "model": {"source": str(model_dir), "device": "cpu", "dtype": "float32"},
            "runs": {"r1": {"dataset": {"source": "unused.jsonl"}, "system_prompt": EVAL_SYSTEM}},
            "benchmark": bench_cfg,
            "output_dir": str(tmp_path / "study"),
        }
    )


def study_doc(model_dir: Path | str) -> dict:
    """A whole tiny study as a YAML document: run `deep` on 40 built-in rows for 2 steps (a checkpoint each),
    a local benchmark bench.jsonl (3 problems, 8 new tokens), and a comparison on one prompt."""
    return {
        "name": "tiny-pipeline",
        "output_dir": "out",
        "model": {"source": str(model_dir), "device": "cpu", "dtype": "float32"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {
            "max_steps": 2,
            "batch_size": 4,
            "eval_every": 1,
            "save_every": 1,
            "learning_rate": 1e-3,
            "max_seq_length": 512,
            "overlong": "truncate",
            "max_eval_samples": 4,
            "report_to": [],
        },
        "runs": {
            "deep": {
                "dataset": {"source": "builtin:deep", "max_rows": 40},
                "system_prompt": "You are a coder.",
            }
        },
        "benchmark": {
            "source": "bench.jsonl",
            "release": None,
            "max_problems": 3,
            "use_system_prompt": True,  # the run's system prompt reaches the eval prompts too
            "timeout_s": 2.0,
            "generation": {"max_new_tokens": 8, "batch_size": 4},
        },
        "compare": {"prompts": ["Explain binary search."], "max_new_tokens": 8},
    }


def embedded_study(folder: Path) -> Path:
    """study_doc's tiny study on the embedded model (its base: the GGUF converted into CODETUNE_HOME), one
    checkpoint after 2 steps, one problem; answers from the HF backend. Returns the study folder."""
    from codetune.config import load_config
    from codetune.data.builtin import builtin_benchmark_rows
    from codetune.study.pipeline import run_study

    write_jsonl(folder / "bench.jsonl", builtin_benchmark_rows(seed=42)[:1])
    doc = study_doc("smollm2-135m-instruct")
    doc["training"] |= {
        "batch_size": 2,
        "max_seq_length": 256,
        "max_eval_samples": 2,
        "eval_every": 2,
        "save_every": 2,
        "warmup_ratio": 0.0,
        "learning_rate": 1e-2,
    }
    doc["benchmark"] |= {"max_problems": 1, "generation": {"max_new_tokens": 8, "backend": "hf"}}
    doc["compare"]["max_new_tokens"] = 4
    (folder / "study.yaml").write_text(yaml.safe_dump(doc))
    run_study(load_config(folder / "study.yaml"))
    return folder / "out"


# ------------------------------------------------------------------------------------------------ adapters


def random_adapter(
    model_dir: Path, out: Path, seed: int = 1, *, alpha: int = 64, targets: str | list[str] = "all-linear"
) -> Path:
    """A rank-4 LoRA adapter on the model in `model_dir`, saved to `out`, with random A and B (peft's
    init_lora_weights=False; a trained adapter's B starts at zero) drawn from `seed`. The defaults (alpha 64
    on every linear layer) change the tiny model's greedy answers, and each seed changes them differently."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    peft = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=4, lora_alpha=alpha, target_modules=targets, init_lora_weights=False),
    )
    peft.save_pretrained(str(out))
    return out


# ------------------------------------------------------------------------------------------------ answers

# The Deep model's binary-search answer as the seed report quotes it (1-space indentation kept).
DEEP_BINARY_SEARCH = """Binary search is an efficient algorithm for finding an item from a sorted list of items. It works by repeatedly dividing in half the portion of the list that could contain the item.

### Logic

1. **Initialization**: Start with the entire array.
2. **Midpoint Calculation**: Find the middle index of the current segment.
3. **Comparison**: If the target value matches the element at the midpoint, return the index.
4. **Repeat**: Continue this process until you find the target or exhaust all possibilities.

### Python Function Implementation

```python
def binary_search(arr, x):
 low = 0
 high = len(arr) - 1

 while low <= high:
  mid = (low + high) // 2
  if arr[mid] == x:
   return mid
  elif arr[mid] < x:
   low = mid + 1
  else:
   high = mid - 1

 return -1
```
"""

# The Diverse model's distance answer: two headed code blocks, and an un-commented prose line inside each
# block ("Example usage:"), so neither block parses as a whole.
DIVERSE_DISTANCE = """Sure! Below is a Python script that calculates the Euclidean distance between two points using the standard math library.

### Using Standard Math Library

```python
import math

def distance_std(x1, y1, x2, y2):
 dx = x2 - x1
 dy = y2 - y1
 return math.sqrt(dx*dx + dy*dy)

Example usage:
result_std = distance_std(1, 2, 4, 6)
print(f"Standard math: {result_std}")
```

### Using NumPy for Vectors

```python
import numpy as np

def distance_numpy(x1, y1, x2, y2):
 # Create arrays from coordinates
 point1 = np.array([x1, y1])
 point2 = np.array([x2, y2])
 diff = point2 - point1
 return np.linalg.norm(diff)

Example usage:
result_numpy = distance_numpy(1, 2, 4, 6)
print(f"NumPy: {result_numpy}")
```
"""

# ------------------------------------------------------------------------------------- a synthetic study

# Ten problems, each with one public and two private tests, dated over 2024-08..2024-10.
QIDS = [f"abc{370 + i}_a" for i in range(10)]
DATES = [f"2024-{8 + i // 4:02d}-{1 + i:02d}T00:00:00" for i in range(10)]
N_PUBLIC, N_PRIVATE = 1, 2

SYNTHETIC_CONFIG = """name: synthetic
output_dir: .
model: {{source: smollm2-135m-instruct}}
training: {{max_steps: 30, eval_every: 10, save_every: 10}}
runs:
{runs}
benchmark:
  source: builtin
  selection: {selection}
"""

BASE_LABEL = EvalLabel("base", None, "base", None, None)


def score_entry(i: int, samples: list[bool]) -> ScoreEntry:
    """Problem QIDS[i] as codetune's scorer writes it: one public then two private tests; a failing sample
    fails its first (public) test and runs no other."""
    return ScoreEntry(
        question_id=QIDS[i],
        contest_date=DATES[i],
        code_list=[f"print({i})"] * len(samples),
        graded_list=samples,
        pass_at_1=sum(samples) / len(samples),
        verdicts=[["passed"] * (N_PUBLIC + N_PRIVATE) if ok else ["wrong_answer"] for ok in samples],
        metadata=[{} for _ in samples],
        public_passed=samples,
        extraction_failed=[False] * len(samples),
        n_public_tests=N_PUBLIC,
        n_private_tests=N_PRIVATE,
    )


def write_synthetic_eval(folder: Path, solved: list, *, label: EvalLabel) -> None:
    """scores.json and summary.json from records: problem QIDS[i] is solved where solved[i] is 1 (one
    sample), or has the given per-sample results where solved[i] is a list."""
    entries = [score_entry(i, s if isinstance(s, list) else [bool(s)]) for i, s in enumerate(solved)]
    write_scored_eval(
        folder, entries, label=label, generation_time_s=10.0, scoring_time_s=2.5, problems_per_s=1.0
    )


def write_scored_eval(
    folder: Path,
    entries: list[ScoreEntry],
    *,
    label: EvalLabel,
    generation_time_s: float,
    scoring_time_s: float,
    problems_per_s: float,
) -> None:
    """An evaluation's scores.json and the summary.json of those scores, as `codetune eval` writes them (of the
    embedded default model, no system prompt, not resumed)."""
    write_list(scores_path(folder), entries)
    EvalSummary(
        **summarize_scores(entries).model_dump(),
        model=label.model,
        run=label.run,
        checkpoint=label.checkpoint,
        step=label.step,
        epoch=label.epoch,
        base_model="smollm2-135m-instruct",
        system_prompt=None,
        wall_time_s=generation_time_s + scoring_time_s,
        generation_time_s=generation_time_s,
        scoring_time_s=scoring_time_s,
        problems_per_s=problems_per_s,
        resumed=False,
    ).write(eval_summary_path(folder))


def write_synthetic_run(
    study: Path,
    name: str,
    evals: dict[int, list],
    *,
    val: dict[int, float] | None = None,
    finished: bool = True,
    unevaluated: tuple[int, ...] = (),
) -> Path:
    """A run folder: metrics every 10 steps, a checkpoint per step in `evals` (+ `unevaluated`), its evals."""
    d = run_dir(study, name)
    steps = sorted(set(evals) | set(unevaluated))
    val = val or {s: 1.0 - s / 100 for s in steps}
    rows = [
        MetricsRow(
            step=s,
            epoch=s / 30,
            train_loss=1.2 - s / 50,
            val_loss=val[s],
            test_loss=val[s] + 0.05,
            learning_rate=1e-3,
            tokens_seen=s * 1000,
            wall_time=s * 2.0,
        )
        for s in steps
    ]
    d.mkdir(parents=True, exist_ok=True)
    metrics_path(d).write_text("".join(r.line() + "\n" for r in rows))
    names = [checkpoint_name(s, 0) for s in steps]
    if finished:
        summarize(rows, run=name, patience=2, checkpoints=names).write(run_summary_path(d))
    for ck in names:
        (checkpoints_dir(d) / ck).mkdir(parents=True)
        (checkpoints_dir(d) / ck / ADAPTER_CONFIG_FILE).write_text(
            json.dumps({"base_model_name_or_path": "base-model"})
        )
    for s, solved in evals.items():
        ck = checkpoint_name(s, 0)
        write_synthetic_eval(eval_dir(d, ck), solved, label=EvalLabel(f"{name}_{ck}", name, ck, s, 0))
    return d


def write_synthetic_study(
    root: Path, *, with_missing_run: bool = True, selection: str = "{method: all}"
) -> Path:
    """Runs `deep` (complete; 3 checkpoints), `diverse` (training interrupted after step 20, step 20 not
    evaluated) and, optionally, `absent` (in the config, never started); the base model evaluated."""
    study = root / "study"
    study.mkdir(parents=True)
    names = ["deep", "diverse"] + (["absent"] if with_missing_run else [])
    runs = "".join(f"  {n}:\n    dataset: {{source: 'builtin:deep'}}\n" for n in names)
    (study / "config.yaml").write_text(SYNTHETIC_CONFIG.format(runs=runs, selection=selection))
    write_synthetic_eval(base_eval_dir(study), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], label=BASE_LABEL)
    write_synthetic_run(
        study,
        "deep",
        {
            10: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            20: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
            30: [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        },
        val={10: 0.9, 20: 0.8, 30: 0.85},
    )
    write_synthetic_run(
        study, "diverse", {10: [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]}, finished=False, unevaluated=(20,)
    )
    return study


# ------------------------------------------------------------------------------------------------ processes


def sleeper_program(mark: str) -> str:
    """A program that names itself `mark` (its comm, inherited by its children), starts a child that leaves
    its session with setsid(), and sleeps for an hour: what must not outlive an interrupted codetune."""
    # libc's fork, not os.fork: LiveCodeBench's execution model disables os.fork, and a fork behind Python's
    # back runs none of its at-fork hooks (the harder case for the cleanup).
    return (
        "import ctypes, time\n"
        "libc = ctypes.CDLL(None)\n"
        f"libc.prctl(15, {mark.encode()!r}, 0, 0, 0)\n"
        "if libc.fork() == 0:\n"
        "    libc.setsid()\n"
        "time.sleep(3600)\n"
    )


def marked_processes(mark: str) -> list[int]:
    """Live processes (zombies excluded) whose comm is `mark`: found by walking /proc, whoever their parent."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == mark and state != "Z":
            found.append(int(entry))
    return found


def sigint_as_default() -> None:
    """A `preexec_fn` for a process a test interrupts with SIGINT: a suite started in the background
    (`pytest &`, nohup) hands its children SIGINT ignored, and codetune keeps an ignored SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# How long a process that was killed may take to be gone (reaped, or a zombie) on a loaded machine: "at once",
# against the 600 s limits the tests' jobs have, with room for a scheduler that runs it late.
REAP_S = 30.0


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
