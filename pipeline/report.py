"""What a batch run reports: one outcome per page and per video, and the totals.

Built by the scheduler (``runner``) from the records the step functions return;
``cli`` and ``progress`` only read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STAGES = ("download", "prepare", "transcribe", "speakers", "align", "write")


def zero_timings() -> dict[str, float]:
    return {stage: 0.0 for stage in STAGES}


@dataclass
class VideoOutcome:
    url: str
    key: str | None = None
    audio_seconds: float = 0.0
    downloaded: bool = False  # False when the media came from the cache (or a local file)
    transcribed: bool = False  # False when the transcription came from the cache
    diarized: bool = False  # --speakers: the engine ran (False: the turns came from the cache, or off)
    speakers: list[str] = field(default_factory=list)  # --speakers: the labels given
    exports: list[str] = field(default_factory=list)  # subtitle / word JSON files written (--export)


@dataclass
class PageOutcome:
    path: str
    state: str  # the page's state before the run
    status: str  # done | skipped | failed | planned (dry run) | interrupted (Ctrl-C came first)
    reason: str | None = None  # why skipped or failed, one line
    warnings: list[str] = field(default_factory=list)
    videos: list[VideoOutcome] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=zero_timings)
    flags: int = 0

    @property
    def audio_seconds(self) -> float:
        return sum(v.audio_seconds for v in self.videos)

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["error"] = self.reason if self.status == "failed" else None
        data["audio_seconds"] = round(self.audio_seconds, 3)
        data["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return data


@dataclass
class RunReport:
    pages: list[PageOutcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    model: str | None = None
    model_loaded: bool = False
    executor: dict[str, Any] = field(default_factory=dict)  # a remote executor's figures (ray_executor.PoolStats)
    interrupted: bool = False  # stopped by Ctrl-C: the pages not done say "interrupted"

    def count(self, status: str) -> int:
        return sum(p.status == status for p in self.pages)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def totals(self) -> dict[str, Any]:
        return {
            "pages": len(self.pages),
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "planned": self.count("planned"),
            "interrupted": self.count("interrupted"),
            "audio_seconds": round(sum(p.audio_seconds for p in self.pages), 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "videos_downloaded": sum(v.downloaded for p in self.pages for v in p.videos),
            "videos_transcribed": sum(v.transcribed for p in self.pages for v in p.videos),
            "model": self.model,
            "model_loaded": self.model_loaded,
        }

    def to_json(self) -> dict[str, Any]:
        data = {"pages": [p.to_json() for p in self.pages], "totals": self.totals()}
        if self.executor:
            data["executor"] = self.executor
        return data
