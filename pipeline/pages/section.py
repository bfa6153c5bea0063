"""The Transcript section: where it is, what it holds (nothing, human text, this tool's draft), its draft marker.

Draft markers (first and last line of what this tool writes in the section)::

    <!-- du-transcripts draft v1; model: tiny.en; date: 2026-11-22; sha256: <64 hex> -->
    ...body...
    <!-- /du-transcripts draft -->

sha256 is of the body between the markers (LF line endings, each line's
trailing whitespace stripped, surrounding blank lines stripped): a mismatch on
reading means a human edited the draft.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..schema import DraftInfo
from .chapters import CHAPTER_HEADINGS, PLACEHOLDER_RE, chapter_line, fence_is_chapter_list, is_label
from .lines import HASHTAG_LINE_RE, Line, clean, eol_of, parse_heading, split_lines

DRAFT_START = "<!-- du-transcripts draft v1;"  # how the start marker begins; its fields follow
DRAFT_END = "<!-- /du-transcripts draft -->"
_DRAFT_START_RE = re.compile(
    "^" + re.escape(DRAFT_START) + r" model: (?P<model>[^;]*); date: (?P<date>[^;]*); "
    r"sha256: (?P<sha>[0-9a-f]{64}) -->\s*$"
)


_TRANSCRIPT_RE = re.compile(r"^## Transcript[ \t]*$")


def find_transcript_heading(lines: list[Line]) -> int | None:
    for i, ln in enumerate(lines):
        if not ln.fenced and _TRANSCRIPT_RE.match(ln.text):
            return i
    return None


@dataclass
class Section:
    kind: str  # "empty" | "human" | "draft" | "edited"
    rest: list[Line]  # the section outside the draft, re-split (a draft's fences must not leak)
    draft: DraftInfo | None = None
    draft_lines: tuple[int, int] | None = None  # line indices of the start and end markers
    kept_agenda: bool = False
    kept_tags: bool = False
    kept_other: bool = False


def body_hash(body: str) -> str:
    rows = [row.rstrip() for row in body.replace("\r\n", "\n").split("\n")]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


_SECTION_PLACEHOLDER_RE = re.compile(r"^\[[^\]]{0,80}\]$|^(?:coming soon|tbd|todo|to do)\.?$", re.IGNORECASE)
_ISSUE_92_RE = re.compile(r"^https?://github\.com/data-umbrella/event-transcripts/issues/92/?$")


def classify_section(text: str, lines: list[Line], head: int) -> Section:
    """What the lines after the Transcript heading hold."""
    draft, draft_lines = _find_draft(text, lines, head)
    rest_from = lines[draft_lines[1]].end if draft_lines is not None else lines[head].end
    kind = "empty" if draft is None else "edited" if draft.edited else "draft"
    sec = Section(kind=kind, rest=split_lines(text[rest_from:]), draft=draft, draft_lines=draft_lines)
    if _holds_human_text(sec):
        sec.kind = "edited" if sec.kind in ("draft", "edited") else "human"
    return sec


def _find_draft(text: str, lines: list[Line], head: int) -> tuple[DraftInfo | None, tuple[int, int] | None]:
    """This tool's draft: the first non-blank line is the start marker, an end marker closes it."""
    n = len(lines)
    first = next((i for i in range(head + 1, n) if lines[i].text.strip()), None)
    m = _DRAFT_START_RE.match(lines[first].text) if first is not None else None
    if first is None or m is None:
        return None, None
    ends = [j for j in range(first + 1, n) if lines[j].text.strip() == DRAFT_END]
    # The end marker whose body matches the hash (a body may quote the marker); else the last one.
    end = next(
        (j for j in ends if body_hash(draft_body(text, lines, first, j)) == m.group("sha")),
        ends[-1] if ends else None,
    )
    if end is None:
        return None, None
    edited = body_hash(draft_body(text, lines, first, end)) != m.group("sha")
    return DraftInfo(model=m.group("model"), date=m.group("date"), edited=edited), (first, end)


class _AgendaReader:
    """Follows an Agenda/Timestamps block through the section: its heading, chapter lines, continued titles."""

    def __init__(self) -> None:
        self.in_agenda = False
        self.after_chapter = False  # the line above is a chapter line: the next may continue its title
        self.saw_heading = False

    def takes(self, s: str) -> bool:
        """True when the (non-blank, unfenced) line ``s`` belongs to an agenda block."""
        h = parse_heading(s) if s.startswith("#") and not HASHTAG_LINE_RE.match(s) else None
        if h:
            self.in_agenda = bool(CHAPTER_HEADINGS.search(h[1]))
            if self.in_agenda:
                self.saw_heading = True
                return True
        if not self.in_agenda:
            return False
        if chapter_line(s) is not None:
            self.after_chapter = True
            return True
        if self.after_chapter or HASHTAG_LINE_RE.match(s) or is_label(s):
            self.after_chapter = False
            return True
        self.in_agenda = False  # prose after the list: a transcript, not part of the agenda
        return False


def _holds_human_text(sec: Section) -> bool:
    """Whether the section outside the draft holds what a human wrote; notes in ``sec`` what else it keeps."""
    human = False
    agenda = _AgendaReader()
    fence_verdicts: dict[int, bool] = {}
    for i, ln in enumerate(sec.rest):
        s = clean(ln.text).strip()
        if not s or s == "\\" or (s.startswith("<!--") and s.endswith("-->")):
            agenda.after_chapter = agenda.after_chapter and s == "\\"
            continue
        if ln.fenced:
            if ln.fence_id not in fence_verdicts:
                fence_verdicts[ln.fence_id] = fence_is_chapter_list(sec.rest, i)
            if fence_verdicts[ln.fence_id]:
                sec.kept_agenda = True
            else:
                human = True
        elif agenda.takes(s):
            continue
        elif HASHTAG_LINE_RE.match(s):
            sec.kept_tags = True
        elif PLACEHOLDER_RE.search(s) or _SECTION_PLACEHOLDER_RE.match(s) or _ISSUE_92_RE.match(s):
            sec.kept_other = True
        else:
            human = True
    sec.kept_agenda = sec.kept_agenda or agenda.saw_heading
    return human


def draft_body(text: str, lines: list[Line], start_marker: int, end_marker: int) -> str:
    raw = text[lines[start_marker].end : lines[end_marker].start]
    if eol_of(text) == "\r\n":
        raw = raw.replace("\r\n", "\n")
    return raw
