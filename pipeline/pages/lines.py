"""A page as text and lines: reading a file safely, line endings, code fences, headings, words.

The lowest layer of the parser: the other modules of ``pipeline.pages`` read a
page through these lines; ``Line`` keeps each line's offsets, so the writer can
change one section and leave every other byte as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A safety limit, not a tuning knob: the largest real page is about 110 kB.
MAX_PAGE_BYTES = 5 * 1024 * 1024


class PageError(Exception):
    """A page that cannot be read or written; the message is one line for the user."""

    def __init__(self, path: str | Path, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.reason = message


def read_text(path: Path, shown: str | Path, max_bytes: int = MAX_PAGE_BYTES) -> str:
    """The file as text, or a one-line PageError for what cannot be a Markdown page."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise PageError(shown, "not a regular file")
        if size > max_bytes:
            raise PageError(
                shown, f"too large for an event page ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB); skipped"
            )
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except PageError:
        raise
    except OSError as e:
        raise PageError(shown, f"cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise PageError(shown, f"too large for an event page (> {max_bytes / 1e6:.0f} MB); skipped")
    if b"\x00" in data:
        raise PageError(shown, "binary file (NUL bytes), not a Markdown page; skipped")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PageError(shown, f"not UTF-8 text (bad byte at offset {e.start}); skipped") from None


@dataclass
class Line:
    text: str  # without the line ending
    start: int  # offset of the line in the file's text
    end: int  # offset just past the line ending
    fenced: bool  # inside a code fence, or a fence delimiter itself
    fence_id: int  # which fence (-1 when outside)
    is_fence_marker: bool


_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pos = 0
    fence: str | None = None
    fence_id = -1
    fences = 0
    n = len(text)
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl + 1
        raw = text[pos:end].rstrip("\n")
        if raw.endswith("\r"):
            raw = raw[:-1]
        m = _FENCE_RE.match(raw)
        marker = False
        if fence is None and m:
            fence, fence_id, fences, marker = m.group(1), fences, fences + 1, True
            in_fence = True
        elif (
            fence is not None
            and m
            and m.group(1)[0] == fence[0]
            and len(m.group(1)) >= len(fence)
            and not raw.strip()[len(m.group(1)) :].strip()
        ):
            fence, marker, in_fence = None, True, True
        else:
            in_fence = fence is not None
        lines.append(Line(raw, pos, end, in_fence, fence_id if in_fence else -1, marker))
        pos = end
    return lines


def eol_of(text: str) -> str:
    nl = text.find("\n")
    return "\r\n" if nl > 0 and text[nl - 1] == "\r" else "\n"


def clean(s: str) -> str:
    """NBSP and friends as spaces, zero-width characters dropped."""
    return (
        s.replace("\u00a0", " ").replace("\u202f", " ").replace("\u200b", "").replace("\ufeff", "").replace("\t", " ")
    )


_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)(.*?)[ \t#]*$")
HASHTAG_LINE_RE = re.compile(r"^(?:#[^\s#]+[ \t]*)+$")


def parse_heading(text: str) -> tuple[int, str] | None:
    m = _HEADING_RE.match(clean(text))
    if not m:
        return None
    return len(m.group(1)), m.group(2).strip()


_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def strip_links(s: str) -> str:
    return _LINK_RE.sub(r"\1", s)


_STOPWORDS = set(
    "a an and the of to in on for with from by at as is are be your you our we us it its this that "
    "data umbrella intro introduction python webinar talk event md how what why using use part video "
    "first last title".split()
)


def keywords(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOPWORDS and not w.isdigit()}
