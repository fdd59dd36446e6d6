"""Evaluation of the base model and checkpoints with the tiny model: files, layout, skip, resume, generation."""

from __future__ import annotations

import json

import pytest

from codetune.errors import CodetuneError
from codetune.layout import (
    GENERATIONS_FILE,
    PROMPTS_FILE,
    SCORES_FILE,
    base_eval_dir,
    checkpoint_name,
    eval_dir,
    eval_summary_path,
    generations_partial_path,
    generations_path,
    prompts_path,
    run_dir,
    scores_path,
    stage_record_path,
    stages_dir,
)
from codetune.records import EvalSummary, StageRecord
from codetune.study import evaluate as ev
from helpers import EVAL_SYSTEM, bench_config, random_adapter


@pytest.fixture
def study(tmp_path, tiny_model_dir, shared_benchmark):
    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark)
    ckpt = run_dir(cfg.output_path, "r1") / "checkpoints" / checkpoint_name(2, 0)
    random_adapter(tiny_model_dir, ckpt)
    stages_dir(cfg.output_path).mkdir()  # a study folder, as training leaves it
    return cfg


def test_eval_base_and_checkpoint_writes_layout_then_skips(study, monkeypatch):
    summaries = ev.evaluate_study(study, include_base=True)
    assert [s.model for s in summaries] == ["base", "r1_checkpoint-step-2-epoch-0"]
    assert summaries[1].step == 2 and summaries[1].run == "r1" and summaries[0].run is None
    for s, folder in zip(
        summaries,
        [
            base_eval_dir(study.output_path),
            eval_dir(run_dir(study.output_path, "r1"), "checkpoint-step-2-epoch-0"),
        ],
        strict=True,
    ):
        assert {PROMPTS_FILE, GENERATIONS_FILE, SCORES_FILE} <= {p.name for p in folder.iterdir()}
        assert not generations_partial_path(folder).exists()
        prompts = [json.loads(line) for line in prompts_path(folder).read_text().splitlines()]
        assert [p["question_id"] for p in prompts] == ["abc365_a", "abc365_b", "abc366_a"]
        # LiveCodeBench's generic chat prompt as it is: the run's system prompt only with use_system_prompt.
        assert prompts[0]["style"] == "generic"
        assert prompts[0]["prompt"].startswith(
            "<|im_start|>system\nYou are an expert Python programmer. You will be given a question"
        )
        assert prompts[0]["prompt"].endswith("<|im_start|>assistant\n")
        gens = json.loads(generations_path(folder).read_text())
        assert [len(g["code_list"]) for g in gens] == [1, 1, 1] and all(
            len(g["output_list"]) == 1 for g in gens
        )
        scores = json.loads(scores_path(folder).read_text())
        assert [s_["question_id"] for s_ in scores] == ["abc365_a", "abc365_b", "abc366_a"]
        assert all({"graded_list", "pass@1", "verdicts", "code_list"} <= s_.keys() for s_ in scores)
        assert EvalSummary.complete_in(folder) == s
        assert s.total == 3 and 0.0 <= s.pass_at_1 <= 1.0 and s.n_samples == 1
        assert s.wall_time_s >= 0 and "pass@1" in s.pass_at_k
        assert s.scoring["extraction"] == "lcb" and s.scoring["stop"] == ["###"]
        assert s.scoring["prompt_style"] == "generic" and not s.scoring["stop_at_code_end"]
        assert s.scoring["livecodebench_commit"].startswith("28fef95")
    # Base model and checkpoint differ (the adapter was active), and nothing reloads on a second call.
    base_out = json.loads(generations_path(base_eval_dir(study.output_path)).read_text())
    ck_dir = eval_dir(run_dir(study.output_path, "r1"), "checkpoint-step-2-epoch-0")
    ck_out = json.loads(generations_path(ck_dir).read_text())
    assert [g["output_list"] for g in base_out] != [g["output_list"] for g in ck_out]

    def no_load(*a, **k):
        raise AssertionError("a complete evaluation must not load the model")

    monkeypatch.setattr("codetune.models.load_model_and_tokenizer", no_load)
    again = ev.evaluate_study(study, include_base=True)
    assert again == summaries

    # The command prints the seed's table (model, Pass@1, solved/total) from the same files.
    from typer.testing import CliRunner

    from codetune.cli import app
    from codetune.config import dump_config

    cfg_file = study.output_path.parent / "study.yaml"
    cfg_file.write_text(dump_config(study))
    res = CliRunner().invoke(app, ["eval", str(cfg_file), "--include-base", "--checkpoints", "2"])
    assert res.exit_code == 0, res.output
    assert "Pass@1" in res.output and "Solved Problems" in res.output
    assert "r1_checkpoint-step-2-epoch-0" in res.output and f"{summaries[1].solved}/3" in res.output


def test_checkpoint_selection_by_step(study):
    assert [p.name for p in ev.choose_checkpoints(study, "r1", "2")] == ["checkpoint-step-2-epoch-0"]
    with pytest.raises(CodetuneError, match="no checkpoint at step 7; steps saved: 2"):
        ev.choose_checkpoints(study, "r1", "7")
    with pytest.raises(CodetuneError, match="evaluated checkpoints"):
        ev.choose_checkpoints(study, "r1", "best")
    with pytest.raises(CodetuneError, match="run 'zz' is not in the config"):
        ev.evaluate_study(study, run="zz")


def test_eval_resumes_after_a_kill_without_duplicates(
    tmp_path, tiny_model_dir, shared_benchmark, monkeypatch
):
    cfg = bench_config(tmp_path, tiny_model_dir, shared_benchmark, max_problems=5)
    from codetune.bench import generate

    real = generate.generate_texts
    calls: list[int] = []

    def killed_after_two(model, tok, convs, decoding, **kw):
        calls.append(len(convs))
        seen = []

        def on_result(i, answers):
            kw_on(i, answers)
            seen.append(i)
            if len(seen) == 2:
                raise KeyboardInterrupt  # the user pressed Ctrl-C mid-evaluation

        kw_on = kw.pop("on_result")
        return real(model, tok, convs, decoding, on_result=on_result, **{**kw, "batch_size": 1})

    monkeypatch.setattr(generate, "generate_texts", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate_study(cfg, include_base=True)
    folder = base_eval_dir(cfg.output_path)
    partial = generations_partial_path(folder)
    assert len(partial.read_text().splitlines()) == 2 and not eval_summary_path(folder).exists()
    # A kill in the middle of a write leaves half a line: it is dropped, not duplicated or fatal.
    with partial.open("a") as f:
        f.write('{"question_id": "abc366_a", "code_l')

    monkeypatch.setattr(
        generate, "generate_texts", lambda *a, **k: (calls.append(len(a[2])), real(*a, **k))[1]
    )
    (summary,) = ev.evaluate_study(cfg, include_base=True)
    assert calls == [5, 3]  # the second run generated only the three unfinished problems
    gens = json.loads(generations_path(folder).read_text())
    ids = [g["question_id"] for g in gens]
    assert len(ids) == len(set(ids)) == 5 and summary.total == 5 and summary.resumed
    assert not partial.exists()


def test_generate_chat_batched_matches_one_at_a_time(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codetune.bench.generate import Decoding, generate_chat

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    convs = [[{"role": "user", "content": "Input Output " * k}] for k in (1, 5, 2)]
    side = tok.padding_side
    greedy = Decoding(max_new_tokens=6)
    batched = generate_chat(model, tok, convs, greedy, batch_size=8, show_progress=False)
    single = [generate_chat(model, tok, [c], greedy, show_progress=False)[0] for c in convs]
    assert batched == single and all(len(a) == 1 for a in batched)
    assert tok.padding_side == side  # left padding is set for generation only
    sampled = generate_chat(
        model, tok, convs, Decoding(max_new_tokens=4, n=3, temperature=1.0), batch_size=4, show_progress=False
    )
    assert [len(a) for a in sampled] == [3, 3, 3]


def test_stop_at_code_end_criteria(tiny_model_dir):
    import torch
    from transformers import AutoTokenizer

    from codetune.bench.generate import _answer_criteria, code_block_closed

    assert code_block_closed("Sure.\n```python\nprint(1)\n```")
    assert not code_block_closed("Sure.\n```python\nprint(1)\n")
    assert not code_block_closed("<think>\n```python\nx\n```\n")  # still reasoning
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok("```python\nprint(1)\n```\nmore text", add_special_tokens=False)["input_ids"]
    crit = _answer_criteria(tok, [], code_end=True)
    stops = [bool(crit(torch.tensor([ids[: i + 1]]), None)[0]) for i in range(len(ids))]
    first = stops.index(True)
    assert (
        tok.decode(ids[: first + 1]).rstrip().endswith("```")
        and tok.decode(ids[: first + 1]).count("```") == 2
    )


def test_system_prompt_style_and_extraction_settings_reach_the_files(
    tmp_path, tiny_model_dir, shared_benchmark
):
    cfg = bench_config(
        tmp_path,
        tiny_model_dir,
        shared_benchmark,
        max_problems=1,
        use_system_prompt=True,
        prompt_style="codeqwen",
        extraction="lenient",
    )
    (summary,) = ev.evaluate_study(cfg, include_base=True)
    folder = base_eval_dir(cfg.output_path)
    (prompt,) = [json.loads(line) for line in (folder / "prompts.jsonl").read_text().splitlines()]
    assert prompt["style"] == "codeqwen"
    assert prompt["prompt"].startswith(
        f"<|im_start|>system\n{EVAL_SYSTEM}<|im_end|>\n<|im_start|>user\n\nYou will be"
    )
    assert summary.scoring["extraction"] == "lenient" and summary.scoring["system_prompt_added"]
    record = StageRecord.read(stage_record_path(cfg.output_path, "eval", "base"))
    # Another rule is another evaluation: the folder is redone, not reused.
    cfg.benchmark.extraction = "lcb"
    (again,) = ev.evaluate_study(cfg, include_base=True)
    redone = StageRecord.read(stage_record_path(cfg.output_path, "eval", "base"))
    assert redone.fingerprint != record.fingerprint and again.scoring["extraction"] == "lcb"


def test_answers_are_cut_at_a_stop_string(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codetune.bench.generate import Decoding, cut_at_stop, generate_texts

    assert cut_at_stop("```python\nx\n```\n### Why\n```python\ny\n```", ["###"]) == "```python\nx\n```\n"
    assert cut_at_stop("no stop here", ["###", "END"]) == "no stop here"
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    prompt = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    (full,) = generate_texts(model, tok, [prompt], Decoding(max_new_tokens=24), show_progress=False)
    assert len(full[0]) > 4
    stop = full[0][2:4]  # a string the greedy answer is known to contain
    (cut,) = generate_texts(
        model, tok, [prompt], Decoding(max_new_tokens=24, stop=[stop]), show_progress=False
    )
    assert cut[0] == full[0][: full[0].find(stop)]


def test_sampling_is_seeded_per_answer_whatever_the_batch(tiny_model_dir):
    """At temperature > 0 an answer depends on its seed only: the same in a batch of three or alone, in any
    order, on every call; another seed gives another draw; samples of one prompt differ from each other."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codetune.bench.generate import Decoding, generate_chat, sample_seed

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    convs = [[{"role": "user", "content": "Input Output " * k}] for k in (1, 5, 2)]
    seeds = [sample_seed(7, q) for q in ("p1", "p5", "p2")]
    decoding = Decoding(max_new_tokens=10, n=2, temperature=1.5, top_p=0.95)
    kw = {"show_progress": False}
    batched = generate_chat(model, tok, convs, decoding, batch_size=6, seeds=seeds, **kw)
    torch.manual_seed(123)  # the global RNG plays no part
    alone = [
        generate_chat(model, tok, [c], decoding, batch_size=2, seeds=[s], **kw)[0]
        for c, s in zip(convs, seeds, strict=True)
    ]
    reversed_ = generate_chat(model, tok, convs[::-1], decoding, batch_size=4, seeds=seeds[::-1], **kw)[::-1]
    assert batched == alone == reversed_
    assert any(a[0] != a[1] for a in batched)  # two samples of a prompt are two draws
    other = generate_chat(model, tok, convs, decoding, batch_size=6, seeds=[s + 1 for s in seeds], **kw)
    assert other != batched


def test_a_sampled_evaluation_redone_gives_the_same_answers_and_records_its_seed(study):
    study.benchmark.generation.temperature = 1.0
    study.benchmark.generation.n = 2
    (base,) = ev.evaluate_study(study, run="r1", checkpoints="2", include_base=False)
    folder = eval_dir(run_dir(study.output_path, "r1"), checkpoint_name(2, 0))
    first = generations_path(folder).read_text()
    assert base.scoring["sampling_seed"] == study.training.seed
    eval_summary_path(folder).unlink()  # redone under the same fingerprint
    generations_path(folder).unlink()
    ev.evaluate_study(study, run="r1", checkpoints="2", include_base=False)
    assert generations_path(folder).read_text() == first


def test_decoding_is_what_the_config_says_whatever_the_checkpoints_generation_config(tiny_model_dir):
    """Qwen2.5-Instruct's generation_config.json sets do_sample, temperature 0.7, top_k 20 and a repetition
    penalty of 1.1; transformers fills every unset setting from it. Greedy answers must not change."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from codetune.bench.generate import Decoding, generate_chat

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    convs = [[{"role": "user", "content": "Input Output " * k}] for k in (1, 3, 6)]
    greedy = Decoding(max_new_tokens=12)
    plain = generate_chat(model, tok, convs, greedy, show_progress=False)
    model.generation_config = GenerationConfig(
        do_sample=True, temperature=5.0, top_k=3, repetition_penalty=8.0, no_repeat_ngram_size=1,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    assert generate_chat(model, tok, convs, greedy, show_progress=False) == plain
    assert model.generation_config.repetition_penalty == 8.0  # the model's own file is left as it was
