"""Assign transcribed words to the page's chapters and break them into paragraphs.

CONTRACT (other modules rely on these names; keep them):

- ``align(transcription, chapters, options: AlignOptions) -> Alignment``
  ``chapters`` is a list of ``pages.Chapter`` in page order (may be empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .transcribe import Word


@dataclass
class Paragraph:
    start: float
    end: float
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()


@dataclass
class AlignedChapter:
    title: str | None  # None: text before the first chapter, or an untitled ~10-minute section
    start: float  # the time to show in the heading: the page's own time for a chapter
    audio_start: float  # where the chapter really begins in the audio after snapping
    audio_end: float
    paragraphs: list[Paragraph] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    level: int = 0


@dataclass
class Alignment:
    chapters: list[AlignedChapter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
