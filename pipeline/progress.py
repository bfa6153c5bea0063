"""What a person sees during a batch: progress bars and the closing summary table."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .runner import PageOutcome, RunReport
from .utils import format_timestamp


class RichObserver:
    """Progress for the batch (pages, audio hours, stage, time left) and the current video."""

    def __init__(self, console: Console):
        self.console = console
        self._lock = threading.Lock()
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.transfers = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            DownloadColumn(),
            console=console,
            transient=True,
        )
        self._batch: TaskID | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._pages_done = 0
        self._pages_total = 0
        self._audio_done = 0.0

    def __enter__(self):
        from rich.console import Group
        from rich.live import Live

        self._live = Live(Group(self.progress, self.transfers), console=self.console, refresh_per_second=4)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)

    def batch_started(self, pages) -> None:
        with self._lock:
            self._pages_total = len(pages)
            self._batch = self.progress.add_task("pages", total=max(1, len(pages)), count=self._count())

    def stage(self, page, stage, detail="") -> None:
        with self._lock:
            if self._batch is not None:
                self.progress.update(self._batch, description=f"{stage:<10} {page.path}")

    def transfer(self, key, stage, done, total) -> None:
        with self._lock:
            task = self._tasks.get((key, stage))
            if task is None:
                task = self.transfers.add_task(f"{stage} {key}", total=total)
                self._tasks[(key, stage)] = task
            self.transfers.update(task, completed=done, total=total)
            if total and done >= total:
                self.transfers.remove_task(task)
                del self._tasks[(key, stage)]

    def page_finished(self, outcome: PageOutcome) -> None:
        with self._lock:
            self._pages_done += 1
            self._audio_done += outcome.audio_seconds
            if self._batch is not None:
                self.progress.update(self._batch, advance=1, count=self._count())
            mark = {"done": "[green]done[/]", "failed": "[red]failed[/]"}.get(outcome.status, outcome.status)
            extra = f": {outcome.reason}" if outcome.reason else ""
            self.console.print(f"{mark} {outcome.path}{extra}", highlight=False)

    def _count(self) -> str:
        return f"{self._pages_done}/{self._pages_total} pages, {self._audio_done / 3600:.2f} h audio"


def summary_table(report: RunReport) -> Table:
    table = Table(title="du-transcripts run")
    table.add_column("page", overflow="fold")
    table.add_column("state")
    table.add_column("status")
    table.add_column("audio", justify="right")
    table.add_column("time", justify="right")
    table.add_column("warnings", justify="right")
    table.add_column("error / reason", overflow="fold")
    style = {"done": "green", "failed": "red", "skipped": "dim", "planned": "cyan"}
    for p in report.pages:
        table.add_row(
            p.path, p.state, f"[{style.get(p.status, '')}]{p.status}[/]",
            format_timestamp(p.audio_seconds) if p.audio_seconds else "",
            f"{p.seconds:.1f}s" if p.seconds else "",
            str(len(p.warnings)) if p.warnings else "",
            p.reason or "",
        )
    t = report.totals()
    table.caption = (
        f"{t['done']} done, {t['skipped']} skipped, {t['failed']} failed"
        + (f", {t['planned']} planned" if t["planned"] else "")
        + f"; {t['audio_seconds'] / 3600:.2f} h of audio in {time.strftime('%H:%M:%S', time.gmtime(t['wall_seconds']))}"
    )
    return table
