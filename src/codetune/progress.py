"""Progress bars and status lines for long work, in one style: every layer that shows progress uses these
(rich), on one console on stderr, so bars and messages never garble each other or a command's output. What
else reaches that console from the libraries is decided here too (quiet_library_warnings)."""

from __future__ import annotations

import sys
import warnings

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

console = Console(stderr=True)


def quiet_library_warnings() -> None:
    """For the `codetune` command only: no deprecation notices from the libraries (transformers' FutureWarning
    about `is_gradient_checkpointing`, ...). They are addressed to codetune's developers, who see them in the
    test suite; a user can act on none. Python's -W option or PYTHONWARNINGS, where given, still decide."""
    if sys.warnoptions:
        return
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)


def say(message: str) -> None:
    """One status line (what a stage did or skipped), printed as is."""
    console.print(message, markup=False, highlight=False)


class RateColumn(ProgressColumn):
    """Items per second, named by the unit (problems/s)."""

    def __init__(self, unit: str = "problems"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        # Completed over elapsed: rich's own speed needs several updates, and a batch may finish all at once.
        speed = task.completed / task.elapsed if task.elapsed and task.completed else None
        return Text(
            f"{speed:.2f} {self.unit}/s" if speed else f"-- {self.unit}/s", style="progress.data.speed"
        )


def progress_bar(
    unit: str | None = "problems",
    *,
    texts: tuple[str, ...] = (),
    eta: bool = False,
    transient: bool = False,
    disable: bool = False,
) -> Progress:
    """A bar: description, bar, done/total, then `texts` (rich templates of task fields, such as
    "loss {task.fields[loss]}"), the rate in `unit`s per second (None: no rate), elapsed time or the ETA."""
    columns: list[ProgressColumn] = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    columns += [TextColumn(t) for t in texts]
    if unit is not None:
        columns.append(RateColumn(unit))
    columns.append(TimeRemainingColumn() if eta else TimeElapsedColumn())
    return Progress(*columns, console=console, transient=transient, disable=disable)
