"""The records every study file holds, typed: each writer builds them and each reader parses them, so a file's
shape is defined here once. A file that does not parse as its record is an error naming the file and the
field, never a guess.

Also defined here, once, the facts several stages share:
- `problem_pass`: a problem's pass@1 is the fraction of its samples that passed every test;
- `is_solved`: a problem is solved when that fraction is at least SOLVED_AT (0.5); with one greedy sample per
  problem (the seed study's setting) this is simply "passed";
- `EvalSummary.complete_in`: an evaluation is complete when its summary (written last) parses;
- `checkpoint_rank` / TIE_BREAKS: the best checkpoint has the highest pass@1, then the most problems solved on
  private tests, then the lowest validation loss, then the earliest step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codetune import layout
from codetune.errors import CodetuneError
from codetune.files import json_text, write_text_atomic

SOLVED_AT = 0.5
IMPORTED = "imported"  # EvalSummary.generated_by["backend"] of answers brought in from LiveCodeBench files
TIE_BREAKS = ("pass@1", "private tests solved", "validation loss", "earlier step")
PASSED = "passed"  # a test's verdict when the program's output was right


def problem_pass(graded: Sequence[bool]) -> float:
    """Per-problem pass@1: the fraction of its samples that passed every test."""
    return sum(bool(g) for g in graded) / len(graded) if graded else 0.0


def is_solved(pass_rate: float) -> bool:
    return pass_rate >= SOLVED_AT


def checkpoint_rank(
    pass1: float, private_solved: int | None, val_loss: float | None, step: int | None, *, use_private: bool
) -> tuple:
    """Sort key of a checkpoint (smaller is better), in the order of TIE_BREAKS. pass@1 is rounded so that
    12/41 computed two ways is one value, not two floats an ulp apart."""
    return (
        -round(pass1, 9),
        -(private_solved or 0) if use_private else 0,
        val_loss if val_loss is not None and math.isfinite(val_loss) else math.inf,
        step if step is not None else math.inf,
    )


def _where(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{loc}: {err['msg']}" + (f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else "")


def read_json(path: Path) -> Any:
    """The parsed JSON of a study file, or None when it is absent; a broken file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CodetuneError(f"{path}: not valid JSON ({e})") from None


class Record(BaseModel):
    """A study file's record: strict (an unknown or missing field is an error), written atomically."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @classmethod
    def parse(cls, data: Any, where: str) -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise CodetuneError(f"{where}: not a {cls.__name__} record: {_where(e)}") from None

    @classmethod
    def read(cls, path: Path) -> Self | None:
        """The record in `path`, or None when the file is absent."""
        data = read_json(path)
        return None if data is None else cls.parse(data, str(path))

    def to_json(self) -> Any:
        return self.model_dump(mode="json", by_alias=True)

    def write(self, path: Path, *, indent: int = 2) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json_text(self.to_json(), indent=indent) + "\n")
        return path


def read_list(cls: type[Record], path: Path) -> list | None:
    """A JSON list of records (the scores file), or None when the file is absent."""
    data = read_json(path)
    if data is None:
        return None
    if not isinstance(data, list):
        raise CodetuneError(
            f"{path}: expected a JSON list of {cls.__name__} records, got {type(data).__name__}"
        )
    return [cls.parse(item, f"{path}: item [{i}]") for i, item in enumerate(data)]


def write_list(path: Path, records: Sequence[Record], *, indent: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json_text([r.to_json() for r in records], indent=indent) + "\n"
    write_text_atomic(path, text)
    return path


# ------------------------------------------------------------------------------------------- stages


class StageRecord(Record):
    """A stage record (layout.stage_record_path): what a stage was computed from. `config` holds the config values it read, keyed like
    the YAML; `inputs` the content hashes of what it read (data, benchmark, checkpoints) and the fingerprints
    of the stages it used; `fingerprint` is the hash of both (see codetune.fingerprint)."""

    stage: str
    key: str | None
    fingerprint: str
    format_version: int
    config: dict[str, Any]
    inputs: dict[str, Any]
    speed: dict[str, Any] = {}  # the speed-only settings it used (config.NOT_RESULT_KEYS), not fingerprinted
    config_file: str | None  # the configs/ history file of the config the study ran with, when known
    codetune_version: str
    started_at: str
    finished_at: str | None  # None while the stage is running (or was killed): its output is partial
    # Once finished: the sha256 of each file of layout.stage_content by its path in the study folder, so a
    # file edited, truncated or replaced since is known not to be the stage's work. None: an older codetune.
    outputs: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


# ----------------------------------------------------------------------------------------- training


class MetricsRow(Record):
    """One line of a run's metrics file (one eval step): losses are token-weighted means over label tokens;
    train_loss is the mean over the interval since the previous eval."""

    step: int
    epoch: float
    train_loss: float | None
    val_loss: float
    test_loss: float
    learning_rate: float | None
    tokens_seen: int  # non-padding input tokens trained on so far, all ranks
    wall_time: float  # seconds of training so far, across resumed sessions

    def line(self) -> str:
        return json.dumps(self.to_json())


class LossAt(Record):
    step: int
    loss: float


class FinalLosses(Record):
    step: int
    train_loss: float | None
    val_loss: float
    test_loss: float


class RunSummary(Record):
    """A run's summary (layout.run_summary_path), written last: the run finished training."""

    run: str
    steps: int
    epochs: float
    evals: int
    best_val: LossAt | None
    best_test: LossAt | None
    final: FinalLosses
    overfitting_step: int | None  # first eval of `overfit_patience` consecutive rises after the minimum
    overfit_patience: int
    tokens_seen: int
    wall_time: float
    checkpoints: list[str]
    # Each checkpoint's adapter hash as training left it (fingerprint.adapter_sha256): training counts as done
    # only while every one is there unchanged. Empty in summaries written before it was recorded.
    checkpoint_sha256: dict[str, str] = {}
    data: dict[str, dict[str, Any]] = {}  # per split: rows, kept, dropped_overlong, truncated, tokens, ...
    # how the run used the hardware (train.accel.Acceleration): attention, Liger kernels, checkpointing and why;
    # with several processes also `distributed` (train.distributed.distributed_record: DDP or FSDP, how many)
    acceleration: dict[str, Any] = {}


# --------------------------------------------------------------------------------------- data checks


class MinMedianMax(Record):
    min: int
    median: float
    max: int
    mean: float


class SplitExample(Record):
    problem_id: str
    splits: list[str]
    problem: str


class DuplicateExample(Record):
    problem_id: str
    copies: int
    where: list[str]
    problem: str


class TokenLengths(Record):
    rows: int
    p50: int
    p90: int
    p95: int
    p99: int
    max: int
    mean: float
    over_max_length: int


class DatasetProfile(Record):
    """A run's dataset profile (layout.profile_path) and `codetune data profile --json`: a dataset's measured shape."""

    source: str
    columns: list[str]
    rows: int
    bad_rows_skipped: int
    bad_row_examples: list[str]
    unique_problems: int
    solutions_per_problem: MinMedianMax
    problems_by_solution_count: dict[str, int]
    split_from: str
    splits: dict[str, int]
    split_problems: dict[str, int]
    cross_split_problems: int
    cross_split_examples: list[SplitExample]
    duplicate_rows: int
    duplicate_examples: list[DuplicateExample]
    # With a tokenizer: token lengths of the rendered chats per training mode.
    max_length: int | None = None
    tokens: dict[str, TokenLengths] | None = None
    rows_over_max_length: dict[str, int] | None = None


class OverlapPair(Record):
    """A benchmark problem and a training statement that contains most of its n-grams."""

    benchmark_id: str
    train_index: int  # index in the training texts (first copy of a repeated statement)
    train_id: str | None
    similarity: float  # containment of the benchmark statement's n-grams in the training statement
    shared_ngrams: int
    benchmark_ngrams: int  # distinct n-grams of the benchmark statement, template n-grams left out
    train_copies: int  # how many training rows carry this same (normalised) statement
    benchmark_excerpt: str
    train_excerpt: str


class OverlapReport(Record):
    """A run's overlap check (layout.overlap_path) and `codetune data overlap --json`: one training source against one benchmark."""

    train_source: str
    train_rows: int
    train_statements: int  # distinct after normalisation
    benchmark_problems: int
    ngram: int
    threshold: float
    possibly_seen_ids: list[str]
    pairs: list[OverlapPair]
    seconds: float
    similarity: str  # how similarity is measured, in words

    @property
    def possibly_seen(self) -> int:
        return len(self.possibly_seen_ids)


# --------------------------------------------------------------------------------------- evaluation


class ScoreEntry(Record):
    """One item of a scores file: LiveCodeBench's eval-all layout (question fields, code_list, graded_list with one
    bool per sample, pass@1) plus codetune's per-sample verdicts (one per test run, up to the first failure;
    public tests first). Unknown fields are ignored, so LiveCodeBench's own eval-all files read too; the
    verdict fields are then absent (None)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    question_id: str = Field(min_length=1)
    question_title: str = ""
    platform: str = ""
    contest_id: str = ""
    contest_date: str | None = None
    difficulty: str = ""
    starter_code: str = ""
    code_list: list[str | None] = []
    graded_list: list[bool] = Field(min_length=1)
    pass_at_1: float | None = Field(default=None, alias="pass@1", ge=0, le=1)  # derived from graded_list
    metadata: list[dict[str, Any]] = []
    verdicts: list[list[str]] | None = None
    public_passed: list[bool] | None = None
    extraction_failed: list[bool] | None = None
    n_public_tests: int | None = None
    n_private_tests: int | None = None
    output_list: list[str] | None = None
    # Tests that hit the time limit starved of CPU and were re-run alone to decide (bench.scoring._starved);
    # the verdicts above are the re-runs'.
    timeouts_rerun: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> ScoreEntry:
        if self.pass_at_1 is not None and abs(self.pass_at_1 - problem_pass(self.graded_list)) > 1e-9:
            raise ValueError(
                f"pass@1 {self.pass_at_1} disagrees with graded_list ({sum(self.graded_list)} of "
                f"{len(self.graded_list)} samples passed)"
            )
        return self

    def to_json(self) -> Any:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def pass_rate(self) -> float:
        return problem_pass(self.graded_list)

    @property
    def solved(self) -> bool:
        return is_solved(self.pass_rate)

    @property
    def public_solved(self) -> bool | None:
        return None if self.public_passed is None else is_solved(problem_pass(self.public_passed))

    @property
    def private_solved(self) -> bool | None:
        """Solved on the private tests alone; None when the scorer did not record them separately."""
        if not self.n_private_tests or self.verdicts is None or self.n_public_tests is None:
            return None
        lo, hi = self.n_public_tests, self.n_public_tests + self.n_private_tests
        per_sample = [len(v) >= hi and all(x == PASSED for x in v[lo:hi]) for v in self.verdicts]
        return is_solved(problem_pass(per_sample))


class ScoreStats(Record):
    """What a list of ScoreEntry sums up to (`codetune score` prints it; EvalSummary carries it)."""

    pass_at_1: float = Field(alias="pass@1")
    pass_at_k: dict[str, float] = Field(alias="pass@k")
    solved: int
    solved_public: int
    private_solved: int | None  # None unless every problem has private tests recorded
    total: int
    n_samples: int
    extraction_failures: int
    sample_verdicts: dict[str, int]  # each sample's last verdict
    timeouts_rerun: int = 0  # tests re-run alone after a starved time limit (ScoreEntry.timeouts_rerun)


class EngineShare(Record):
    """How an evaluation shared one engine with others (benchmark.generation.engine one_engine): the sweep's
    totals. Its summary's generation and wall times are then its share of the sweep's, by requests."""

    mode: str  # "one_engine"
    backend: str  # "hf" | "vllm"
    models: int  # evaluations generated together
    requests: int  # (model, problem) requests sent in the one generate call
    generation_s: float
    wall_s: float
    # The engine's platform-dependent settings (vLLM: platform, dtype, enforce_eager, gpu_memory_utilization)
    settings: dict | None = None


class EvalSummary(ScoreStats):
    """An evaluation's summary (layout.eval_summary_path), written last: the evaluation is complete."""

    model: str  # seed-style label: "base" or "<run>_<checkpoint-name>"
    run: str | None
    checkpoint: str
    step: int | None
    epoch: int | None
    base_model: str
    system_prompt: str | None
    wall_time_s: float
    generation_time_s: float
    scoring_time_s: float
    problems_per_s: float | None
    resumed: bool
    scoring: dict | None = None  # the rules it was scored under (codetune.bench.rules.scoring_rules)
    # A hub benchmark's {"revision", "files": [{"name", "sha256"}]}; None for local and built-in sources.
    benchmark_provenance: dict | None = None
    engine: EngineShare | None = None  # None: generated on its own (per_checkpoint)
    # What generated the answers (bench.engine.describe_engine): backend, package version, engine mode and
    # the engine's settings. None: evaluated by an older codetune.
    generated_by: dict | None = None

    @property
    def imported(self) -> bool:
        """Its answers came from a LiveCodeBench answers file (codetune import): there is no checkpoint."""
        return (self.generated_by or {}).get("backend") == IMPORTED

    @classmethod
    def complete_in(cls, folder: Path) -> EvalSummary | None:
        """The summary of a complete evaluation in `folder`, or None while it is missing or partial."""
        return cls.read(layout.eval_summary_path(folder))


# ---------------------------------------------------------------------------------------- selection


class ModelRow(Record):
    """One model's benchmark result as the tables show it (fractions, not percents)."""

    model: str
    run: str | None
    checkpoint: str | None
    step: int | None
    pass1: float = Field(alias="pass@1")
    solved: int
    total: int
    wilson: tuple[float, float] | None
    bootstrap: tuple[float, float] | None
    n_samples: int = 1
    val_loss: float | None = None
    private_solved: int | None = None
    # pass@1 on the selection problems, when they differ from the reported ones
    select_pass1: float | None = Field(default=None, alias="select_pass@1")
    eval_dir: str = ""
    checkpoint_dir: str | None = None
    wall_time_s: float | None = None


class RunSelection(Record):
    run: str
    best: ModelRow | None
    decided_by: str | None  # which tie-break picked the best ("pass@1" when it was unique)
    tied: list[str] = Field(default=[], alias="tied_with")  # others with the best's selection pass@1
    rows: list[ModelRow] = Field(default=[], alias="checkpoints")
    missing: list[str] = []


class Selection(Record):
    """The study's selection (layout.selection_path): the best checkpoint of each run, and on which problems it was chosen and reported."""

    method: str  # all | random | date
    seed: int = 0
    note: str
    select_ids: list[str] | None = Field(alias="select_problems")  # None: all problems
    report_ids: list[str] | None = Field(alias="report_problems")
    base: ModelRow | None
    runs: dict[str, RunSelection]
    gaps: list[str] = []


# --------------------------------------------------------------------------------------- comparison


class AnswerMetrics(Record):
    """Behaviour metrics of one answer, computed from its text."""

    explanation_before_code: bool  # prose (not only headers) before the first code block
    explanation_chars: int  # length of that prose; the whole prose when there is no code block
    explanation_words: int
    headers: int  # markdown headers outside code blocks
    code_blocks: int
    unclosed_code_block: bool
    python_blocks_parsed: int  # python blocks that parse as a whole; others are scanned line by line
    python_blocks_unparsed: int
    libraries: list[str] = []  # top-level modules imported, sorted
    third_party_libraries: list[str] = []  # those not in the standard library
    functions: list[str] = []  # names defined with def, in order of appearance
    answer_chars: int = 0
    answer_words: int = 0
    answer_lines: int = 0


class AggregateMetrics(Record):
    """One model's answers summed up: counts, means, and each library with how many answers import it."""

    answers: int
    explanation_before_code: int = 0
    mean_explanation_chars: float = 0.0
    headers: int = 0
    code_blocks: int = 0
    unclosed_code_blocks: int = 0
    functions: int = 0
    libraries: dict[str, int] = {}
    third_party_libraries: list[str] = []
    mean_answer_chars: float = 0.0
    mean_answer_words: float = 0.0


class CompareDecoding(Record):
    """How the comparison's answers were decoded (bench.generate.Decoding is what an engine is given)."""

    temperature: float
    max_new_tokens: int


class CompareModel(Record):
    name: str
    checkpoint: str | None  # None: the bare base model
    answers: list[str]
    seconds: float


class CompareAnswers(Record):
    """The comparison's answers (layout.compare_answers_path): the same prompts through each model, greedy decoding."""

    base_model: str
    prompts: list[str]
    system_prompt: str | None
    decoding: CompareDecoding
    models: list[CompareModel]


class CompareModelMetrics(Record):
    name: str
    checkpoint: str | None
    metrics: list[AnswerMetrics]  # one per prompt
    aggregate: AggregateMetrics


class CompareMetrics(Record):
    """The comparison's metrics (layout.compare_metrics_path): each answer's behaviour metrics and their aggregate per model."""

    prompts: list[str]
    models: list[CompareModelMetrics]


# ------------------------------------------------------------------------------------------- import


class ImportedFile(Record):
    file: str  # its name in the answers folder
    sha256: str
    run: str | None  # None: the base model's answers
    checkpoint: str | None


class ImportRecord(Record):
    """A study imported from LiveCodeBench answers files (layout.import_record_path): where each evaluation's
    answers came from. Nothing was trained or generated by codetune; only the scoring is codetune's."""

    answers_dir: str
    pattern: str
    model: str  # the base model the answers are said to come from, as the user named it
    files: list[ImportedFile]
    metrics: dict[str, str] = {}  # run -> sha256 of the metrics.jsonl given for it
    imported_at: str
    codetune_version: str


# -------------------------------------------------------------------------------------- environment


class Environment(Record):
    """Where the study last ran (layout.environment_path)."""

    recorded_at: str
    python: str
    platform: str
    machine: str
    cpu_count: int | None
    executable: str
    packages: dict[str, str | None]
    accelerator: str | None
    torch_threads: int | None = None
    sandbox: str | None = None  # how model-written code was confined (sandbox.isolation_level)
