"""The scoring rules an evaluation runs under: recorded in each summary.json, stated in the report.

Two evaluations compare only when these match: prompt style, whether the run's system prompt was added,
extraction rule, stop rule, per-test limits, and the LiveCodeBench commit whose rules codetune follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codetune.bench.extract import EXTRACTION_RULES
from codetune.bench.prompts import LCB_COMMIT, STYLE_NAMES, resolve_style
from codetune.bench.scoring import SCORING_VERSION
from codetune.records import IMPORTED

if TYPE_CHECKING:
    from codetune.config import BenchmarkConfig


def scoring_rules(bench: BenchmarkConfig, model: str, system_prompt: str | None) -> dict:
    """The rules an evaluation is scored under, as summary.json and the report state them."""
    g = bench.generation
    return {
        "extraction": bench.extraction,
        "prompt_style": resolve_style(bench.prompt_style, model),
        "system_prompt_added": system_prompt is not None,
        "stop": list(g.stop),
        "stop_at_code_end": g.stop_at_code_end,
        "timeout_s": bench.timeout_s,
        "memory_mb": bench.memory_mb,
        "livecodebench_commit": LCB_COMMIT,
        "scoring_version": SCORING_VERSION,
    }


def describe_rules(rules: dict) -> str:
    """One sentence naming the rules (extraction, stop rule, prompt style, LiveCodeBench commit)."""
    if rules.get("answers") == IMPORTED:  # codetune import: prompt, decoding and extraction were not ours
        text = (
            "answers imported from LiveCodeBench custom-output files, their code_list scored as given (prompt, "
            "decoding and code extraction were LiveCodeBench's runner's)"
        )
    else:
        text = _generated_rules(rules)
    commit = rules.get("livecodebench_commit")
    if not commit:
        return text
    # The three places codetune decides otherwise (bench/scoring.py's table, tests/test_lcb_parity.py).
    memory = f"a {rules['memory_mb']} MB memory cap" if rules.get("memory_mb") else "a memory cap"
    return text + (
        f"; LiveCodeBench rules of commit {commit[:12]}, except {memory}, a fresh process per test and a time "
        "limit the program cannot catch, on its own time (waits for a CPU other work held left out)"
    )


def _named(names: dict[str, str], value: object) -> object:
    """`value`'s name in `names`, else `value` as it is (None where a record lacks it)."""
    return names.get(value, value) if isinstance(value, str) else value


def _generated_rules(rules: dict) -> str:
    stop = ", ".join(repr(s) for s in rules.get("stop", [])) or "none"
    text = (
        f"prompt style {_named(STYLE_NAMES, rules.get('prompt_style'))}"
        f"{' with the run system prompt' if rules.get('system_prompt_added') else ''}; extraction "
        f"{_named(EXTRACTION_RULES, rules.get('extraction'))}; answers end at EOS, the "
        f"token budget or a stop string ({stop})"
    )
    if rules.get("stop_at_code_end"):
        text += (
            "; generation stopped at the first closed code block (stop_at_code_end, a speed option: "
            "answers are scored on their first block, where LiveCodeBench scores the last)"
        )
    return text
