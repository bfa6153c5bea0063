"""What each stage call tells the world: the progress display, the trace file, the clock.

``StageHooks.stage`` wraps one stage call (as yt-dlp's post-processor hooks are
applied by one wrapper), so no call site repeats the observer, trace and timing lines::

    with hooks.stage("download", page, key, detail=url) as span:
        media = download(...)
        span.fields["fetched"] = not media.from_cache
    timings["download"] = span.seconds
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .pages import Page
    from .report import PageOutcome

# Set to a file name, every stage's start and end is appended there as a JSON line
# ({"t", "pid", "event", "stage", "page", "key", ...}): how the tests see where a run is
# (to kill it mid-stage) and count model calls across runs, and how the batch benchmark
# measures overlap. Unset (the default), nothing is written.
TRACE_ENV = "DU_TRANSCRIPTS_TRACE"


class Observer(Protocol):
    """What a progress display is told. Every method may be called from worker threads."""

    def batch_started(self, pages: list[Page]) -> None: ...
    def stage(self, page: Page, stage: str, detail: str = "") -> None: ...
    def transfer(self, key: str, stage: str, done: float, total: float | None) -> None: ...
    def page_finished(self, outcome: PageOutcome) -> None: ...


class NullObserver:
    def batch_started(self, pages: list[Page]) -> None:
        pass

    def stage(self, page: Page, stage: str, detail: str = "") -> None:
        pass

    def transfer(self, key: str, stage: str, done: float, total: float | None) -> None:
        pass

    def page_finished(self, outcome: PageOutcome) -> None:
        pass


class Trace:
    """Appends stage events to the file named by $DU_TRANSCRIPTS_TRACE (see TRACE_ENV)."""

    def __init__(self, path: str | None):
        self.path = path or None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> Trace:
        return cls(os.environ.get(TRACE_ENV))

    def __call__(self, event: str, stage: str, page: Page | None = None, key: str | None = None, **fields: Any) -> None:
        if self.path is None:
            return
        record = {
            "t": time.time(),
            "pid": os.getpid(),
            "event": event,
            "stage": stage,
            "page": page.path if page is not None else None,
            "key": key,
            **fields,
        }
        # One short write per line in append mode: lines from concurrent runs never interleave.
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


@dataclass
class Span:
    """One stage call as it is measured: filled by its own thread only."""

    seconds: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)  # added to the trace's "end" event


class StageHooks:
    """The observer and the trace, applied around each stage call by :meth:`stage`."""

    def __init__(self, observer: Observer | None = None, trace: Trace | None = None):
        self.observer: Observer = observer or NullObserver()
        self.trace = trace or Trace(None)

    @contextmanager
    def stage(
        self,
        name: str,
        page: Page | None,
        key: str | None = None,
        *,
        detail: str = "",
        observed: bool = True,
        traced: bool = True,
    ) -> Iterator[Span]:
        """Tell the display, trace the start, time the call, trace its end (only when it succeeds)."""
        if observed and page is not None:
            self.observer.stage(page, name, detail)
        if traced:
            self.trace("start", name, page, key)
        span = Span()
        started = time.perf_counter()
        yield span
        span.seconds = time.perf_counter() - started
        if traced:
            self.trace("end", name, page, key, **span.fields)

    def progress(self, key: str, stage: str):
        """A (done, total) callback reporting a transfer's progress to the display."""

        def report(done: float, total: float | None) -> None:
            self.observer.transfer(key, stage, done, total)

        return report
