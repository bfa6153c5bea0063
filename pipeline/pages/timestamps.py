"""A page's Timestamps block: its placeholder lines, and filling them with proposed chapters.

- ``timestamp_lines(chapters) -> list[str]``: ``mm:ss Title`` lines (``h:mm:ss`` from an
  hour on), the house format of a Timestamps block.
- ``fill_timestamps(path, chapters) -> WriteResult``: the first Timestamps block that holds
  only placeholders (``00:00 Help us add timestamps``, ``xx:xx ...``, ``[get from video]``,
  or nothing under its ``## Timestamps`` line) gets the chapters in place of its placeholder
  lines; every other byte stays as it was (line endings, the final newline, the issue-92
  link, the rest of the page; a later ``## Timestamps`` saying ``[get from video]`` too). A
  page with a chapter a human wrote in any Timestamps block is never touched, and so a second
  fill changes nothing. Atomic, like ``write_transcript``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..schema import Chapter, ProposedChapter, WriteResult
from ..utils import atomic_write_bytes, format_timestamp
from .chapters import PLACEHOLDER_RE, chapter_line
from .lines import Line, clean, eol_of, parse_heading, read_text, split_lines

_TIMESTAMPS_RE = re.compile(r"^\s*#{1,4}\s*timestamps?\s*:?\s*$", re.IGNORECASE)


def timestamp_lines(chapters: Sequence[Chapter | ProposedChapter]) -> list[str]:
    return [f"{format_timestamp(c.start)} {' '.join(c.title.split())}" for c in chapters]


@dataclass
class _TimestampsBlock:
    heading: int  # index of its ``## Timestamps`` line
    placeholders: list[int] = field(default_factory=list)
    human: bool = False  # holds a chapter line that is no placeholder


def _is_placeholder(text: str) -> bool:
    s = clean(text).strip()
    line = chapter_line(s)
    if line is not None:
        return line.start is None or not line.title or bool(PLACEHOLDER_RE.search(line.title))
    return bool(PLACEHOLDER_RE.search(s))


def _blocks(lines: list[Line]) -> list[_TimestampsBlock]:
    """Each ``## Timestamps`` line (in a fence or a real heading) and the lines under it: to its
    fence's end, or (unfenced) to the next heading or the first line that is neither."""
    blocks = []
    for i, line in enumerate(lines):
        if not _TIMESTAMPS_RE.match(clean(line.text)):
            continue
        block = _TimestampsBlock(heading=i)
        for j in range(i + 1, len(lines)):
            below = lines[j]
            if (line.fenced and (below.fence_id != line.fence_id or below.is_fence_marker)) or (
                not line.fenced and (below.fenced or parse_heading(below.text))
            ):
                break
            if not below.text.strip():
                continue
            if _is_placeholder(below.text):
                block.placeholders.append(j)
            elif chapter_line(clean(below.text).strip()) is not None or line.fenced:
                block.human = True
            else:
                break  # prose after an unfenced block (the issue-92 link) is not part of it
        blocks.append(block)
    return blocks


def fill_timestamps(path: str | Path, chapters: Sequence[Chapter | ProposedChapter]) -> WriteResult:
    path = Path(path)
    text = read_text(path, path)
    lines = split_lines(text)
    blocks = _blocks(lines)
    if any(b.human for b in blocks):  # a human's list (or ours, filled before) anywhere: leave the page alone
        return WriteResult(str(path), changed=False)
    target = next((b for b in blocks if b.placeholders), None) or next(iter(blocks), None)
    if target is None or not chapters:
        return WriteResult(str(path), changed=False)
    eol = eol_of(text)
    new = eol.join(timestamp_lines(chapters))
    if target.placeholders:
        first = lines[target.placeholders[0]]
        # the first placeholder's text becomes the list; later placeholder lines go, endings and all
        out = text[: first.start] + new + text[first.start + len(first.text) : first.end]
        cursor = first.end
        for j in target.placeholders[1:]:
            out += text[cursor : lines[j].start]
            cursor = lines[j].end
        out += text[cursor:]
    else:  # a bare ``## Timestamps``: the list goes right under it
        head = lines[target.heading]
        ending = text[head.start + len(head.text) : head.end]
        out = text[: head.end] + new + ending + text[head.end :] if ending else text + eol + new
    if out == text:
        return WriteResult(str(path), changed=False)
    atomic_write_bytes(path, out.encode("utf-8"))
    return WriteResult(str(path), changed=True)
