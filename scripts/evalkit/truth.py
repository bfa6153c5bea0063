"""A talk's ``truth.json``: what was said, by whom, when, and where its chapters begin.

One schema for the writer (``scripts/make_eval_set.py``) and every reader
(``evalkit.metrics``, ``scripts/evaluate.py``, ``scripts/bench.py``, the tests).
Times are seconds in the talk's audio; a chapter's ``page_start`` is the (whole
second, deliberately off) time its page gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRUTH_FILE = "truth.json"


@dataclass
class TrueChapter:
    title: str
    start: float  # where it truly begins ("true_start")
    end: float  # where the next one begins, or the talk ends ("true_end")
    page_start: float | None  # the time the page gives (off by a few seconds)
    text: str  # everything said in it
    level: int = 0  # 1: a sub-chapter (a ` -- ` line on the page)

    def to_json(self) -> dict[str, Any]:
        # Key order as the files have always had it, so a rebuilt talk is byte-identical;
        # "level" only where there are sub-chapters.
        data: dict[str, Any] = {"title": self.title}
        if self.level:
            data["level"] = self.level
        data.update(true_start=self.start, text=self.text, true_end=self.end, page_start=self.page_start)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrueChapter:
        start, end = float(data["true_start"]), float(data["true_end"])
        return cls(data["title"], start, end, data.get("page_start"), data["text"], int(data.get("level", 0)))


@dataclass
class Span:
    kind: str  # "music" | "noise" | "silence"
    start: float
    end: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Span:
        return cls(data["kind"], float(data["start"]), float(data["end"]))


@dataclass
class Utterance:
    chapter: int  # index into Truth.chapters
    speaker: str
    voice: str
    start: float
    end: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "speaker": self.speaker,
            "voice": self.voice,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Utterance:
        return cls(data["chapter"], data["speaker"], data["voice"], data["start"], data["end"], data["text"])


@dataclass
class Truth:
    name: str
    duration: float
    page_has_chapters: bool
    chapters: list[TrueChapter]
    utterances: list[Utterance]
    non_speech: list[Span]
    title: str = ""
    description: str = ""
    sources: list[str] = field(default_factory=list)
    audio: str = "audio.ogg"
    voices: dict[str, str] = field(default_factory=dict)  # speaker -> voice
    made_by: str = "scripts/make_eval_set.py"
    folder: Path | None = None  # where it was read from (not written)

    @property
    def reference_text(self) -> str:
        return " ".join(u.text for u in self.utterances)

    @property
    def audio_path(self) -> Path | None:
        return self.folder / self.audio if self.folder else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "sources": list(self.sources),
            "audio": self.audio,
            "duration": self.duration,
            "page_has_chapters": self.page_has_chapters,
            "voices": dict(self.voices),
            "chapters": [c.to_json() for c in self.chapters],
            "utterances": [u.to_json() for u in self.utterances],
            "non_speech": [s.to_json() for s in self.non_speech],
            "made_by": self.made_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path | None = None) -> Truth:
        return cls(
            name=data["name"],
            duration=float(data["duration"]),
            page_has_chapters=bool(data["page_has_chapters"]),
            chapters=[TrueChapter.from_json(c) for c in data["chapters"]],
            utterances=[Utterance.from_json(u) for u in data["utterances"]],
            non_speech=[Span.from_json(s) for s in data["non_speech"]],
            title=data.get("title", ""),
            description=data.get("description", ""),
            sources=list(data.get("sources", [])),
            audio=data.get("audio", "audio.ogg"),
            voices=dict(data.get("voices", {})),
            made_by=data.get("made_by", "scripts/make_eval_set.py"),
            folder=folder,
        )


def load_truth(path: str | Path) -> Truth:
    """Read a talk's truth.json (a folder holding one, or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    return Truth.from_json(json.loads(path.read_text(encoding="utf-8")), folder=path.parent)


def truth_text(truth: Truth) -> str:
    """The file's text, as written (one-space indent, UTF-8 kept)."""
    return json.dumps(truth.to_json(), indent=1, ensure_ascii=False) + "\n"
