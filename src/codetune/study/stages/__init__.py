"""The stages of a study, one module per kind, in the order they run (STAGES):

  profile   per run     the run's dataset, tokenizer, max length, seed
  overlap   per run     the run's dataset against the selected benchmark problems
  train     per run     model, LoRA, training settings, the run's data
  eval      per model   model, adapter files, benchmark problems and tests, prompts, decoding, extraction
                        and scoring rules, limits
  selection             the evaluations, the runs' losses, the selection rule
  compare               the selected checkpoints, compare prompts, decoding
  report                every stage above

Each kind is a StageKind (base.py): how its stages are planned and fingerprinted, computed, and judged done.
A new kind is a module here and its line in STAGES; its output files are named in codetune.layout.
"""

from codetune.study.stages.base import StageKind
from codetune.study.stages.compare import COMPARE
from codetune.study.stages.eval import EVAL
from codetune.study.stages.overlap import OVERLAP
from codetune.study.stages.profile import PROFILE
from codetune.study.stages.report import REPORT
from codetune.study.stages.selection import SELECTION
from codetune.study.stages.train import TRAIN

# The pipeline (codetune.study.pipeline) plans and computes them in this order; a kind's plan sees the stages
# of the kinds before it.
STAGES: tuple[StageKind, ...] = (PROFILE, OVERLAP, TRAIN, EVAL, SELECTION, COMPARE, REPORT)
