"""The study: plan, select, compare, report, and the pipeline that runs it all."""
