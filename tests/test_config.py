from pathlib import Path

import pytest
import yaml

from codetune.config import dump_config, load_config, parse_config
from codetune.errors import CodetuneError

REPO = Path(__file__).resolve().parents[1]


def _base() -> dict:
    return {"runs": {"a": {"dataset": {"source": "builtin:deep"}}}}


@pytest.mark.parametrize("name", ["seed-qwen2.5-coder-1.5b.yaml", "demo.yaml"])
def test_shipped_configs_validate_and_reload_from_the_study_s_copy(name):
    """A study keeps its resolved config (every default filled in) as config.yaml; read back, it is the same
    config, and writes the same file: stages compare that text to decide what is stale."""
    cfg = load_config(REPO / "configs" / name)
    copy = parse_config(yaml.safe_load(dump_config(cfg)), origin="config.yaml")
    assert copy.model_dump() == cfg.model_dump()
    assert dump_config(copy) == dump_config(cfg)


def test_seed_config_is_the_seed_study():
    cfg = load_config(REPO / "configs" / "seed-qwen2.5-coder-1.5b.yaml")
    assert cfg.model.source == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.target_modules) == (16, 32, "all-linear")
    assert cfg.training.learning_rate == 2e-4 and cfg.training.epochs == 3
    assert cfg.training.eval_every == cfg.training.save_every == 20
    assert {n: r.dataset.source for n, r in cfg.runs.items()} == {
        "deep_instruction": "Naholav/CodeGen-Deep-5K",
        "diverse_instruction": "Naholav/CodeGen-Diverse-5K",
    }
    for run in cfg.runs.values():
        assert run.mode == "instruction"
        assert run.system_prompt == (
            "You are an expert Python programmer. Please read the problem carefully before writing any Python code."
        )
    b = cfg.benchmark
    assert (b.release, b.platform, b.difficulty, b.contest_start, b.contest_end) == (
        "release_v5",
        "atcoder",
        "easy",
        "2408",
        "2502",
    )
    assert b.generation.temperature == 0 and b.k == [1]


def test_demo_uses_embedded_default():
    cfg = load_config(REPO / "configs" / "demo.yaml")
    assert cfg.model.source == "smollm2-135m-instruct"
    assert cfg.benchmark.source == "builtin"
    assert all(r.dataset.source.startswith("builtin:") for r in cfg.runs.values())


@pytest.mark.parametrize(
    "patch, key",
    [
        ({"trainig": {}}, "trainig: unknown key"),
        ({"training": {"eval_every": 0}}, "training.eval_every"),
        ({"training": {"learning_rate": "fast"}}, "training.learning_rate"),
        ({"lora": {"r": -1}}, "lora.r"),
        ({"benchmark": {"contest_start": "2413"}}, "benchmark.contest_start"),
        ({"benchmark": {"generation": {"n": 4}}}, "benchmark.generation"),
        ({"runs": {"a": {"dataset": {"source": "x", "colums": {}}}}}, "runs.a.dataset.colums: unknown key"),
        ({"runs": {"a": {"dataset": {"source": "x"}, "mode": "chat"}}}, "runs.a.mode"),
        ({"runs": {}}, "runs"),
    ],
)
def test_bad_values_name_their_key(patch, key):
    data = _base() | patch
    with pytest.raises(CodetuneError) as e:
        parse_config(data, origin="study.yaml")
    assert "study.yaml" in str(e.value)
    assert key in str(e.value)


def test_missing_file_and_yaml_syntax(tmp_path):
    with pytest.raises(CodetuneError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs:\n  a:\n    dataset: {source: x\n")
    with pytest.raises(CodetuneError, match=r"bad.yaml: line \d+, column \d+: YAML syntax error"):
        load_config(bad)


def test_relative_paths_resolve_against_config_folder(tmp_path):
    cfg_file = tmp_path / "sub" / "s.yaml"
    cfg_file.parent.mkdir()
    cfg_file.write_text("output_dir: out\nruns:\n  a:\n    dataset: {source: data.jsonl}\n")
    cfg = load_config(cfg_file)
    assert cfg.output_path == (tmp_path / "sub" / "out").resolve()
    assert cfg.resolve_path("data.jsonl") == tmp_path / "sub" / "data.jsonl"


def test_shared_system_prompt_only_when_all_runs_agree():
    same = parse_config(
        {
            "runs": {
                "a": {"dataset": {"source": "x"}, "system_prompt": "S"},
                "b": {"dataset": {"source": "y"}, "system_prompt": "S"},
            }
        }
    )
    assert same.shared_system_prompt() == "S"
    differ = parse_config(
        {"runs": {"a": {"dataset": {"source": "x"}, "system_prompt": "S"}, "b": {"dataset": {"source": "y"}}}}
    )
    assert differ.shared_system_prompt() is None


def test_set_overrides_are_yaml_values_on_dotted_paths():
    seed = REPO / "configs" / "seed-qwen2.5-coder-1.5b.yaml"
    cfg = load_config(
        seed,
        [
            "training.max_steps=12",
            "training.learning_rate=1e-4",
            "benchmark.k=[1, 5]",
            "benchmark.release=null",
            "runs.deep_instruction.dataset.source=data/deep.jsonl",
            "model.device=cpu",
        ],
    )
    assert cfg.training.max_steps == 12 and cfg.training.learning_rate == 1e-4
    assert cfg.benchmark.k == [1, 5] and cfg.benchmark.release is None
    assert cfg.runs["deep_instruction"].dataset.source == "data/deep.jsonl"
    assert cfg.runs["diverse_instruction"].dataset.source == "Naholav/CodeGen-Diverse-5K"  # untouched
    assert cfg.model.device == "cpu" and cfg.path == seed.resolve()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("training.max_stepz=3", "training.max_stepz: unknown key (from --set training.max_stepz=3)"),
        (
            "training.max_steps=-1",
            "training.max_steps: Input should be greater than 0 (from --set training.max_steps=-1)",
        ),
        (
            "runs.deep_instruction.mode=chat",
            "runs.deep_instruction.mode: Input should be 'instruction' or 'think'",
        ),
        ("lora.r.x=1", "--set lora.r.x=1: lora.r is a int, not a section"),
        ("training.max_steps", "--set training.max_steps: expected key.path=value"),
    ],
)
def test_bad_set_override_is_the_files_error_saying_it_came_from_set(override, expected):
    seed = REPO / "configs" / "seed-qwen2.5-coder-1.5b.yaml"
    with pytest.raises(CodetuneError) as e:
        load_config(seed, [override])
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_a_section_set_whole_is_validated_like_the_file():
    msg = r"^cfg.yaml: runs.b.dataset.source: Field required \(from --set runs.b.dataset=\{\}\)$"
    with pytest.raises(CodetuneError, match=msg):
        parse_config(_base(), "cfg.yaml", ["runs.b.dataset={}"])
