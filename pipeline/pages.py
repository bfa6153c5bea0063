"""Event pages: parse a Data Umbrella page into plain data, and write its Transcript section.

CONTRACT (other modules rely on these names; keep them):

- ``read_page(path, *, root=None) -> Page``: parse one file. Never raises for bad
  content; an unreadable/binary/huge file raises ``PageError`` with a one-line message.
- ``scan(paths) -> Iterator[Page | PageError]``: files or folders (recursive ``*.md``),
  sorted, one result per file; ``Page.path`` is relative to the folder given.
- ``write_transcript(path, body, *, model, date, replace_draft=False) -> WriteResult``:
  put ``body`` (Markdown, "\n" line endings) into the Transcript section between
  the draft markers below, in the file's own line endings, atomically.
  Raises ``PageError`` if the section holds human text, or holds a draft and
  ``replace_draft`` is False, or the page has no Transcript heading.
- ``read_transcript(path) -> str | None``: the draft body that write_transcript wrote
  (between the markers, "\n" line endings), or None.

Draft markers (first and last line of what this tool writes in the section)::

    <!-- du-transcripts draft v1; model: tiny.en; date: 2026-11-22; sha256: <64 hex> -->
    ...body...
    <!-- /du-transcripts draft -->

sha256 is of the body between the markers (LF line endings, each line's
trailing whitespace stripped, surrounding blank lines stripped): a mismatch on
reading means a human edited the draft, and the page then counts as
``has-transcript`` (human text, never overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

# Page states, as `scan --json` prints them.
NEEDS_TRANSCRIPT = "needs-transcript"
HAS_DRAFT = "has-draft"
HAS_TRANSCRIPT = "has-transcript"
NO_TRANSCRIPT_SECTION = "no-transcript-section"
NO_VIDEO = "no-video"
NOT_AN_EVENT = "not-an-event"


class PageError(Exception):
    """A page that cannot be read or written; the message is one line for the user."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.reason = message


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


def read_page(path: str | Path, *, root: str | Path | None = None) -> Page:
    raise NotImplementedError


def scan(paths: Iterable[str | Path]) -> Iterator[Page | PageError]:
    raise NotImplementedError


def write_transcript(path: str | Path, body: str, *, model: str, date: str, replace_draft: bool = False) -> WriteResult:
    raise NotImplementedError


def read_transcript(path: str | Path) -> str | None:
    raise NotImplementedError
