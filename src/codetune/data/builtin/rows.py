"""Problems -> rows: the Naholav CodeGen schema for training, LiveCodeBench's layout for the benchmark."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta

from . import render
from .build import SAMPLES, Problem
from .families import FAMILIES

SOURCE = "codetune-builtin"
LICENSE = "Apache-2.0"  # written by the codetune project, under the project's license
DIFFICULTY = {1: "easy", 2: "easy", 3: "medium"}
FIRST_CONTEST = date(2025, 3, 1)


def _row(p: Problem, row_id: str, variant: str, steps: list[str], code: str) -> dict:
    return {
        "id": row_id,
        "input": p.statement,
        "output": render.answer(steps, code),
        "solution": code,
        "split": p.split,
        "difficulty": DIFFICULTY[p.level],
        "source": SOURCE,
        "license": LICENSE,
        "dataset": f"builtin:{variant}",
        "family": p.family,
        "problem_id": p.problem_id,
    }


def deep_rows(problems: list[Problem], seed: int) -> list[dict]:
    """One row per problem: the full numbered reasoning, then the family's first (canonical) solution."""
    return [
        _row(p, f"builtin-s{seed}-{p.problem_id}", "deep", p.steps, p.solutions[0]["code"])
        for p in problems
        if p.split != "benchmark"
    ]


def diverse_rows(problems: list[Problem], seed: int) -> list[dict]:
    """One row per (problem, solution): every distinct solution, each with a one-line approach."""
    return [
        _row(
            p,
            f"builtin-s{seed}-{p.problem_id}-{s['label']}",
            "diverse",
            render.diverse_steps(p.steps, s),
            s["code"],
        )
        for p in problems
        if p.split != "benchmark"
        for s in p.solutions
    ]


def split_sizes(rows: list[dict]) -> dict[str, int]:
    counts = Counter(r["split"] for r in rows)
    return {s: counts.get(s, 0) for s in ("train", "valid", "test")}


def _benchmark_order(problems: list[Problem]) -> list[Problem]:
    """Easiest first (level, then the families' declared order), a held-out family every third row, so a
    `max_problems` prefix samples both kinds."""
    rank = {f.name: i for i, f in enumerate(FAMILIES)}
    by_level = lambda p: (p.level, rank[p.family])  # noqa: E731
    instances = sorted(
        (p for p in problems if p.split == "benchmark" and not p.held_out_family), key=by_level
    )
    families = sorted((p for p in problems if p.split == "benchmark" and p.held_out_family), key=by_level)
    ordered: list[Problem] = []
    while instances or families:
        take_family = families and (len(ordered) % 3 == 1 or not instances)
        ordered.append((families if take_family else instances).pop(0))
    return ordered


def benchmark_rows(problems: list[Problem], seed: int) -> list[dict]:
    rows = []
    for n, p in enumerate(_benchmark_order(problems), 1):
        contest = f"builtin-s{seed}-{n:03d}"
        rows.append(
            {
                "question_title": p.title,
                "question_content": p.statement,
                "platform": "codetune",
                "question_id": f"{contest}_a",
                "contest_id": contest,
                "contest_date": (FIRST_CONTEST + timedelta(days=n - 1)).isoformat() + "T00:00:00",
                "starter_code": "",
                "difficulty": "easy",
                "public_test_cases": render.tests_json(p.tests[:SAMPLES]),
                "private_test_cases": render.tests_json(p.tests[SAMPLES:]),
                "metadata": json.dumps(
                    {
                        "source": SOURCE,
                        "family": p.family,
                        "topic": p.topic,
                        "held_out": "family" if p.held_out_family else "instance",
                        "problem_id": p.problem_id,
                        "seed": seed,
                    }
                ),
            }
        )
    return rows
