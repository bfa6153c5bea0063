"""What a person sees during a batch: progress bars and the closing summary table."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from rich.console import Console, Group
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from .report import PageOutcome, RunReport
from .utils import format_timestamp

# Stages run by the model's side of the batch (the main and writer threads); the
# others run in the fetch threads, ahead of it, and get a line of their own.
MODEL_STAGES = ("transcribe", "align", "write")


class RichObserver:
    """The batch (pages done of total, audio hours done, what the model is doing, time
    left), what the fetchers are doing, and a bar per download or transcription."""

    def __init__(self, console: Console):
        self.console = console
        self._lock = threading.Lock()
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[eta]}", style="progress.remaining"),
            console=console,
            transient=False,
        )
        self.transfers = Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            TextColumn("{task.fields[amount]}"),
            console=console,
            transient=True,
        )
        self._batch: TaskID | None = None
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._fetching: dict[str, str] = {}  # page -> its fetch stage, until the model takes it
        self._started = time.monotonic()
        self._pages_done = 0
        self._pages_total = 0
        self._audio_done = 0.0  # seconds of audio of the finished pages
        self._pages_with_audio = 0  # finished pages whose audio length is known
        self._current: tuple[float, float] | None = None  # (done, total) seconds of the transcription running
        self._estimate: tuple[float, float] | None = None  # (seconds left, when estimated)

    def __enter__(self):
        from rich.live import Live

        self._live = Live(self, console=self.console, refresh_per_second=4)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)

    def __rich__(self) -> Group:
        with self._lock:
            if self._batch is not None:
                self.progress.update(self._batch, count=self._count(), eta=self._time_left())
            fetching = ", ".join(f"{stage} {page}" for page, stage in self._fetching.items())
        lines: list[Progress | Text | Table] = [self.progress]
        if fetching:
            lines.append(Text(f"  fetching: {fetching}", style="dim", overflow="ellipsis", no_wrap=True))
        return Group(*lines, self.transfers)

    def batch_started(self, pages) -> None:
        with self._lock:
            self._started = time.monotonic()
            self._pages_total = len(pages)
            if pages:  # an empty batch gets no bar, only the summary
                self._batch = self.progress.add_task("starting", total=len(pages), count=self._count(), eta="")

    def stage(self, page, stage, detail="") -> None:
        with self._lock:
            if stage in MODEL_STAGES:
                self._fetching.pop(page.path, None)
                if self._batch is not None:
                    self.progress.update(self._batch, description=f"{stage:<10} {page.path}")
            else:
                self._fetching[page.path] = stage

    def transfer(self, key, stage, done, total) -> None:
        with self._lock:
            if stage == "transcribe":
                self._current = (done, total)
                self._estimate = self._estimate_time_left()
            amount = (
                f"{format_timestamp(done)} / {format_timestamp(total)} of audio"
                if stage == "transcribe"
                else f"{decimal(int(done))}" + (f" / {decimal(int(total))}" if total else "")
            )
            task = self._tasks.get((key, stage))
            if task is None:
                task = self.transfers.add_task(f"{stage:<10} {key}", total=total, amount=amount)
                self._tasks[(key, stage)] = task
            self.transfers.update(task, completed=done, total=total, amount=amount)
            if total and done >= total:
                self.transfers.remove_task(task)
                del self._tasks[(key, stage)]
                if stage == "transcribe":
                    self._current = None

    def page_finished(self, outcome: PageOutcome) -> None:
        with self._lock:
            self._pages_done += 1
            self._audio_done += outcome.audio_seconds
            self._pages_with_audio += outcome.audio_seconds > 0
            self._fetching.pop(outcome.path, None)
            self._estimate = self._estimate_time_left()
            if self._batch is not None:
                self.progress.update(self._batch, advance=1, count=self._count(), eta=self._time_left())
                if self._pages_done >= self._pages_total:
                    self.progress.update(self._batch, description="finished")
        # Printed outside the lock: printing redraws the display, which takes the lock (__rich__).
        mark = {"done": "[green]done[/]", "failed": "[red]failed[/]"}.get(outcome.status, outcome.status)
        extra = f": {escape(outcome.reason)}" if outcome.reason else ""
        self.console.print(f"{mark} {escape(outcome.path)}{extra}", highlight=False)

    def _count(self) -> str:
        return f"{self._pages_done}/{self._pages_total} pages, {self._audio_done / 3600:.2f} h audio"

    def _estimate_time_left(self) -> tuple[float, float] | None:
        """(seconds left, when estimated), from the audio processed so far per second of the
        batch (downloads included); a page whose length is not known yet counts as the mean
        of those known (failed pages count as none)."""
        done, total = self._current or (0.0, 0.0)
        processed = self._audio_done + done
        elapsed = time.monotonic() - self._started
        known = self._pages_with_audio + (1 if self._current else 0)
        if processed <= 0 or known == 0 or elapsed <= 0:
            return None
        mean = (self._audio_done + total) / known
        remaining = (total - done) + mean * max(0, self._pages_total - self._pages_done - (1 if self._current else 0))
        return remaining / (processed / elapsed), time.monotonic()

    def _time_left(self) -> str:
        """The last estimate counted down; once that runs out before the batch does, the
        estimate made now (which grows while the model works on a long talk without news)."""
        if self._pages_done >= self._pages_total:
            return ""
        if self._estimate is None:
            return "time left -:--:--"
        seconds, at = self._estimate
        counted_down = seconds - (time.monotonic() - at)
        if counted_down <= 0:
            now = self._estimate_time_left()
            counted_down = now[0] if now else 0.0
        return f"time left {format_timestamp(counted_down)}"


def summary_table(report: RunReport) -> Table:
    table = Table(title="du-transcripts run")
    table.add_column("page", overflow="fold")
    table.add_column("state")
    table.add_column("status")
    table.add_column("audio", justify="right")
    table.add_column("time", justify="right")
    table.add_column("warnings", justify="right")
    table.add_column("error / reason", overflow="fold")
    style = {"done": "green", "failed": "red", "skipped": "dim", "planned": "cyan", "interrupted": "yellow"}
    for p in report.pages:
        table.add_row(
            escape(p.path),  # page names and reasons are data, never rich markup
            p.state,
            f"[{style.get(p.status, '')}]{p.status}[/]",
            format_timestamp(p.audio_seconds) if p.audio_seconds else "",
            f"{p.seconds:.1f}s" if p.seconds else "",
            str(len(p.warnings)) if p.warnings else "",
            escape(p.reason or ""),
        )
    t = report.totals()
    table.caption = (
        f"{t['done']} done, {t['skipped']} skipped, {t['failed']} failed"
        + (f", {t['planned']} planned" if t["planned"] else "")
        + (f", {t['interrupted']} interrupted" if t["interrupted"] else "")
        + f"; {t['audio_seconds'] / 3600:.2f} h of audio in {time.strftime('%H:%M:%S', time.gmtime(t['wall_seconds']))}"
    )
    if report.executor:  # executor hook (issue 13): the Ray pool's size and throughput
        e = report.executor
        table.caption += (
            f"\n{e['workers']} Ray worker(s), {e['audio_seconds'] / 3600:.2f} h of audio at {e['throughput']:.1f} "
            f"audio s per wall s" + (f"; {e['retries']} video(s) retried on a fresh worker" if e["retries"] else "")
        )
    exports = [Path(e) for p in report.pages for v in p.videos for e in v.exports]
    if exports:
        where = os.path.commonpath([e.parent for e in exports])
        table.caption += f"\n{len(exports)} export file(s) (--export) under {escape(where)}"
    return table
