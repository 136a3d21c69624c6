"""Progress bars of the long commands (seed, import, sync): on a terminal only, never in cron logs.

A bar is drawn (with ``rich``, on stderr) only when stdout and stderr are terminals and no
``--json`` was asked for; otherwise the callback does nothing, so scripts and cron see the same
plain output as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["interactive", "progress_bar"]


def interactive(json_output: bool = False) -> bool:
    return not json_output and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: int | None, *, enabled: bool, unit: str = "") -> Iterator[
        Callable[[int], None]]:
    """Yield ``update(done)``; ``done`` is the absolute amount so far, out of ``total``."""
    if not enabled:
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    step = max(1, (total or 0) // 500)  # redraw at most ~500 times whatever the size
    last = [0]
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), amount, TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int) -> None:
            if done - last[0] >= step or (total is not None and done >= total):
                last[0] = done
                bar.update(task, completed=done)

        yield update
        if total is not None:
            bar.update(task, completed=total)
