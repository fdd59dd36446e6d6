"""The study report, one module per section, each fed by the study's records (inputs.ReportInputs).

Every sentence is built from a number read or computed from those records; anything missing (a run never
started, a checkpoint not evaluated, no comparison) is said to be missing, never filled in.


results      warnings, the results table, pass@1 by step, summary      (first screen)
curves       validation loss against pass@1, rank correlation
matrix       problem x model outcomes, problems gained and lost
failures     failure kinds per checkpoint
answers      each answer openable: raw answer, program, first failing test
checkpoints  every checkpoint's table, selection, paired comparisons, scoring rules
training     loss curves;  data: datasets and contamination;  behaviour: the comparison
provenance   appendix: configuration, stage records, what is not shown, environment
build        assembles them and writes the HTML and Markdown
"""

from codetune.study.report.build import write_report
from codetune.study.report.facts import loss_facts, paired_sentence

__all__ = ["loss_facts", "paired_sentence", "write_report"]
