"""Writing the Transcript section back, and reading this tool's draft out of it.

Every byte outside the section stays as it was, the file's own line endings
included, and so does its end: a page that ended with a newline still does, one
that did not still does not. The write is atomic (a temporary file renamed over
the page). A page that is a symlink is written through to its target (the link
stays a link); a read-only page is refused, never replaced.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..schema import WriteResult
from ..utils import atomic_write_bytes
from .lines import MAX_PAGE_BYTES, Line, PageError, eol_of, read_text, split_lines
from .section import (
    DRAFT_END,
    DRAFT_START,
    Section,
    body_hash,
    classify_section,
    draft_body,
    find_transcript_heading,
)


class PageChangedError(PageError):
    """The page on disk is not the one the caller read."""


_MARKER_VALUE_RE = re.compile(r"^[\w.:/+@-]+$")


def _section_parts(text: str, lines: list[Line], head: int, sec: Section) -> tuple[str, str]:
    """(kept, tail): the non-human lines to keep below the draft, verbatim, and the file's trailing whitespace."""
    if sec.draft_lines is not None:
        # Just past the old end marker, so that what followed it on its line stays (a rewrite is then a no-op).
        end_line = lines[sec.draft_lines[1]]
        after = end_line.start + end_line.text.index(DRAFT_END) + len(DRAFT_END)
    else:
        after = lines[head].end
    rest = text[after:]
    core = rest.rstrip(" \t\r\n")
    tail = rest[len(core) :]
    kept = core.lstrip(" \t\r\n")
    if kept:
        # keep the kept lines' own leading indentation: restart at the beginning of the line
        start = len(core) - len(kept)
        line_start = core.rfind("\n", 0, start) + 1
        kept = core[line_start:]
    return kept, tail


def _render_section(body: str, *, model: str, date: str, eol: str, kept: str, tail: str) -> str:
    if body and not body.endswith("\n"):
        body += "\n"
    start = f"{DRAFT_START} model: {model}; date: {date}; sha256: {body_hash(body)} -->"
    out = eol + start + eol + body.replace("\n", eol) + DRAFT_END
    if kept:
        out += eol + eol + kept
    return out + tail


def write_transcript(path: str | Path, body: str, *, model: str, date: str, replace_draft: bool = False) -> WriteResult:
    path = Path(path)
    for name, value in (("model", model), ("date", date)):
        if not _MARKER_VALUE_RE.match(value) or "--" in value:
            raise PageError(path, f"{name} {value!r} cannot go into the draft marker")
    if "\x00" in body:
        raise PageError(path, "the transcript body holds NUL bytes; not written")
    text = read_text(path, path)
    lines = split_lines(text)
    head = find_transcript_heading(lines)
    if head is None:
        raise PageError(path, "no '## Transcript' heading; none is added")
    sec = classify_section(text, lines, head)
    if sec.kind == "human":
        raise PageError(path, "the Transcript section holds human text; not overwritten")
    if sec.kind == "edited":
        raise PageError(path, "the draft was edited by a human; not overwritten")
    new_text = _with_section(text, lines, head, sec, body, model=model, date=date)
    if new_text == text:
        return WriteResult(path=str(path), changed=False)
    if sec.kind == "draft" and not replace_draft:
        raise PageError(path, "the Transcript section already holds a draft; replace it only on request")
    _write_page(path, new_text)
    return WriteResult(path=str(path), changed=True)


def _with_section(text: str, lines: list[Line], head: int, sec: Section, body: str, *, model: str, date: str) -> str:
    """The page's text with ``body`` as its Transcript section's draft."""
    eol = eol_of(text)
    kept, tail = _section_parts(text, lines, head, sec)
    heading_line = text[lines[head].start : lines[head].end]
    if not heading_line.endswith("\n"):
        heading_line += eol
    new_text = (
        text[: lines[head].start]
        + heading_line
        + _render_section(body, model=model, date=date, eol=eol, kept=kept, tail=tail)
    )
    # When the heading (or an old draft's end marker) was the last line, its newline was the page's last byte:
    # the new section ends the page now, and ends it the same way.
    if text.endswith("\n") and not new_text.endswith("\n"):
        new_text += "\r\n" if text.endswith("\r\n") else "\n"
    return new_text


def _write_page(path: Path, new_text: str) -> None:
    """Replace the page's text atomically: through a symlink to its target, never over a read-only file."""
    target = Path(os.path.realpath(path))  # a symlink stays a link: its target gets the new text
    data = new_text.encode("utf-8")
    if len(data) > MAX_PAGE_BYTES:  # a page this tool could no longer read
        limit = MAX_PAGE_BYTES // (1024 * 1024)
        raise PageError(path, f"the page would hold {len(data):,} bytes, over the {limit} MB a page may; not written")
    try:
        mode = target.stat().st_mode
        if not mode & 0o222 or not os.access(target, os.W_OK):
            raise PageError(path, "the page is read-only; not overwritten")
        atomic_write_bytes(target, data)
    except OSError as e:
        raise PageError(path, f"cannot write: {e.strerror or e}") from None


def replace_draft_body(path: str | Path, body: str, *, expected_sha256: str | None = None) -> WriteResult:
    """Put ``body`` between the draft's two markers, both kept as they are, and change nothing else.

    The start marker keeps its old sha256, so a changed body reads as a human's edit (``run``
    then never overwrites it). The file's line endings and its end stay; the write is atomic.
    ``expected_sha256``: of the page's bytes as the caller last read them; a page that differs is refused.
    """
    path = Path(path)
    if "\x00" in body:
        raise PageError(path, "the transcript body holds NUL bytes; not written")
    text = read_text(path, path)
    if expected_sha256 is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() != expected_sha256:
        raise PageChangedError(path, "the page changed on disk since it was read; not written")
    lines = split_lines(text)
    head = find_transcript_heading(lines)
    sec = classify_section(text, lines, head) if head is not None else None
    if sec is None or sec.draft_lines is None:
        raise PageError(path, "no draft of this tool in the Transcript section; nothing replaced")
    if body and not body.endswith("\n"):
        body += "\n"
    first, last = sec.draft_lines
    new_text = text[: lines[first].end] + body.replace("\n", eol_of(text)) + text[lines[last].start :]
    if new_text == text:
        return WriteResult(path=str(path), changed=False)
    _write_page(path, new_text)
    return WriteResult(path=str(path), changed=True)


def read_transcript(path: str | Path) -> str | None:
    """The body between this tool's markers ("\\n" line endings, ending with a newline), or None."""
    path = Path(path)
    text = read_text(path, path)
    lines = split_lines(text)
    head = find_transcript_heading(lines)
    if head is None:
        return None
    sec = classify_section(text, lines, head)
    if sec.draft_lines is None:
        return None
    return draft_body(text, lines, *sec.draft_lines)
