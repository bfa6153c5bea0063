"""The plain data every stage shares: words and segments, pages and chapters, alignments, flags.

Only dataclasses, their JSON forms and their constants live here: no I/O, no
model, no import of a stage, so any stage (and any test) can use the types
without loading another stage. The stages produce and consume them:

- pages: ``Page`` (with its ``Video``\\s and their ``Chapter``\\s, ``DraftInfo``,
  one of the page states below), ``WriteResult``;
- transcribe: ``Transcription`` of ``Segment``\\s of ``Word``\\s;
- align: ``Alignment`` of ``AlignedChapter``\\s (of one of the kinds below) of
  ``Paragraph``\\s;
- flags: ``Flag``;
- propose: ``ProposedChapter`` (for a page and video without chapters);
- render: takes one ``RenderedPart`` per video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# --------------------------------------------------------------------------- transcription


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str  # as the model wrote it, usually with a leading space
    probability: float
    # Who says it (0, 1, ... in order of first appearance; None: not diarized). Set by the
    # speaker stage on the words after the glossary; never cached with the transcription.
    speaker: int | None = None


@dataclass(slots=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float = 0.0
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcription:
    audio_duration: float
    language: str
    model: str  # the model's name as the user gave it, for the draft marker
    segments: list[Segment] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # what produced it, for the cache key

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]

    def to_json(self) -> dict:
        return {
            "audio_duration": self.audio_duration,
            "language": self.language,
            "model": self.model,
            "options": self.options,
            "segments": [
                {
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "avg_logprob": s.avg_logprob,
                    "compression_ratio": s.compression_ratio,
                    "no_speech_prob": s.no_speech_prob,
                    "temperature": s.temperature,
                    # words as [start, end, text, probability]: a long talk has tens of thousands
                    "words": [[w.start, w.end, w.text, w.probability] for w in s.words],
                }
                for s in self.segments
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Transcription:
        segments = [
            Segment(
                start=float(s["start"]),
                end=float(s["end"]),
                text=str(s["text"]),
                avg_logprob=float(s["avg_logprob"]),
                compression_ratio=float(s["compression_ratio"]),
                no_speech_prob=float(s["no_speech_prob"]),
                temperature=float(s["temperature"]),
                words=[Word(float(a), float(b), str(t), float(p)) for a, b, t, p in s["words"]],
            )
            for s in data["segments"]
        ]
        return cls(
            audio_duration=float(data["audio_duration"]),
            language=str(data["language"]),
            model=str(data["model"]),
            segments=segments,
            options=dict(data.get("options") or {}),
        )


# --------------------------------------------------------------------------- pages

# Page states, as `scan --json` prints them.
NEEDS_TRANSCRIPT = "needs-transcript"
HAS_DRAFT = "has-draft"
HAS_TRANSCRIPT = "has-transcript"
NO_TRANSCRIPT_SECTION = "no-transcript-section"
NO_VIDEO = "no-video"
NOT_AN_EVENT = "not-an-event"


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds from the start of the video
    title: str
    level: int = 0  # 1 for a ` -- ` sub-chapter


@dataclass
class Video:
    url: str
    id: str | None  # the 11-character YouTube id, or None for other URLs
    chapters: list[Chapter] = field(default_factory=list)
    label: str | None = None  # "Part 1", "61a", ... where the page names parts
    source: str = "link"  # "link": a Video line; "embed": only an <a><img> embed names it


@dataclass
class DraftInfo:
    model: str
    date: str
    edited: bool  # True when the text no longer matches the marker's hash


@dataclass
class Page:
    path: str  # as found under the scanned folder
    title: str
    state: str
    videos: list[Video] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)  # names, for the model's context
    tags: list[str] = field(default_factory=list)  # hashtags without '#'
    draft: DraftInfo | None = None
    source: Path | None = None  # the file on disk
    root: Path | None = None  # the folder given to scan that holds the page; None: the page was given alone
    # What the Transcript section holds: None (no heading), "empty", "human",
    # "draft" or "edited"; with the videos it decides `state`.
    section: str | None = None

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "state": self.state,
            "title": self.title,
            "videos": [
                {
                    "url": v.url,
                    "id": v.id,
                    "label": v.label,
                    "chapters": [{"start": c.start, "title": c.title} for c in v.chapters],
                }
                for v in self.videos
            ],
            "warnings": list(self.warnings),
        }


@dataclass
class WriteResult:
    path: str
    changed: bool  # False when the file already held exactly this draft


# --------------------------------------------------------------------------- alignment

# Aligned chapter kinds, for the renderer.
CHAPTER = "chapter"  # one of the page's chapters
LEAD = "lead"  # words before the page's first chapter
SECTION = "section"  # a page without chapters: about section_minutes each, headed by its time
# The note of a chapter left empty although a word or two are spoken at its time (they open or close a
# sentence of the neighbouring chapter): a true note, never "no speech".
SPEECH_ELSEWHERE = "The words spoken at this time are in a sentence under the neighbouring heading."
NO_SPEECH = "No speech in this part."  # the note of a chapter without words (align sets it, render writes it)


@dataclass
class Paragraph:
    start: float
    end: float
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()

    @property
    def speaker(self) -> int | None:
        """Who says it: align never lets a paragraph span two speakers."""
        return self.words[0].speaker if self.words else None


@dataclass
class AlignedChapter:
    title: str | None  # None: text before the first chapter, or an untitled ~10-minute section
    start: float  # the time to show in the heading: the page's own time for a chapter
    audio_start: float  # where the chapter really begins in the audio after snapping
    audio_end: float
    paragraphs: list[Paragraph] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    level: int = 0
    kind: str = CHAPTER
    note: str | None = None  # shown instead of text when the chapter has none

    @property
    def words(self) -> list[Word]:
        return [w for p in self.paragraphs for w in p.words]


@dataclass
class Alignment:
    chapters: list[AlignedChapter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- flags and rendering


class Flag(NamedTuple):
    """A passage a reviewer should listen to again; a NamedTuple, so ``(start, end, reason)`` unpacks."""

    start: float
    end: float
    reason: str


@dataclass
class RenderedPart:
    """One video of a page, as the renderer takes it: its link and label, its alignment and its flags."""

    url: str
    label: str | None
    alignment: Alignment
    flags: list[Flag] = field(default_factory=list)
    speakers: dict[int, str] = field(default_factory=dict)  # speaker index -> label ("Ty", "Speaker 2")
    proposed: bool = False  # its chapters were proposed by this tool (propose.py), not the page's


# --------------------------------------------------------------------------- proposed chapters

# Why a proposed chapter starts where it does (the strongest reason), for `chapters --json`.
CUE_START = "start"  # the talk's first words
CUE_QA = "qa"  # the Q&A begins ("any questions", "Q&A")
CUE_QUESTION = "question"  # a question asked in the Q&A
CUE_TALK = "talk"  # the speaker's talk begins: "over to you", "let me share my screen"
CUE_CLOSING = "closing"  # "thank you all for coming"
CUE_PHRASE = "phrase"  # another cue phrase: "let's get started", "to wrap up", "welcome to"
CUE_TOPIC = "topic"  # the words change (lexical cohesion), with a pause or a new speaker


@dataclass(frozen=True)
class ProposedChapter:
    """A chapter this tool proposes for a talk whose page and video have none."""

    start: float  # seconds: where its first sentence starts in the audio
    title: str  # words of the talk, in title case ("Q&A - How Does One Get into AI Security?")
    cue: str = CUE_TOPIC

    def to_chapter(self) -> Chapter:
        return Chapter(start=self.start, title=self.title)

    def to_json(self) -> dict:
        return {"start": self.start, "title": self.title, "cue": self.cue}
