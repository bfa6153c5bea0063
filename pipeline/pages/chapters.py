"""The chapter grammar: time-led lines, the lists they form, and which video each list belongs to.

Pure functions over a page's lines: a chapter line (``M:SS``, ``H:MM:SS``, ``.`` for
``:``, ranges, `` -- `` sub-chapters, placeholders), a chapter list (``Block``,
with the labels and headings above it), and the assignment of lists to videos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..schema import Chapter, Video
from ..utils import format_timestamp
from .lines import HASHTAG_LINE_RE, Line, clean, parse_heading
from .links import ANY_YT_ID_RE, VIDEO_LINE_RE

_TIME = r"(?:\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
_CHAPTER_RE = re.compile(
    r"^(?:(?:[-*+]|\d{1,3}[.)])\s+)?(?:\*\*)?\[?(?P<time>" + _TIME + r"|xx:xx(?::xx)?)\]?(?:\([^)\s]*\))?(?:\*\*)?"
    r"(?:\s*(?:to|-|–|—)\s*\[?" + _TIME + r"\]?(?=[\s:]|$))?"
    r"(?=[\s:\-–—|]|$)\s*:?\s*(?P<sep>-+|–|—|\|)?\s*(?P<title>.*)$",
    re.IGNORECASE,
)
PLACEHOLDER_RE = re.compile(
    r"help us add timestamps|^\[?get from (?:video|meetup)\]?$|^\[?will post after|^\[?(?:title|tbd|todo)\]?$",
    re.IGNORECASE,
)
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")


CHAPTER_HEADINGS = re.compile(r"timestamps?|agenda|chapters|outline|contents", re.IGNORECASE)


_PART_CODE_RE = re.compile(r"\[(\d+)([a-z])\]")
PART_NUM_RE = re.compile(r"\b(?:video|part)\s*(\d{1,2})\b", re.IGNORECASE)
_BARE_CODE_RE = re.compile(r"\b\d{2,3}([a-h])\b")


def _seconds(stamp: str) -> float | None:
    parts = [int(p) for p in re.split(r"[:.]", stamp)]
    if len(parts) == 3:
        h, m, s = parts
        if m >= 60 or s >= 60:
            return None
        return float(h * 3600 + m * 60 + s)
    m, s = parts
    if s >= 60:
        return None
    return float(m * 60 + s)


@dataclass
class _ChapterLine:
    start: float | None  # None: a placeholder time (xx:xx)
    title: str
    sub: bool  # written with ` -- `


def chapter_line(text: str) -> _ChapterLine | None:
    s = clean(text).strip()
    if not s or not (s[0].isdigit() or s[0] in "-*+[xX"):
        return None
    m = _CHAPTER_RE.match(s)
    if not m:
        return None
    stamp = m.group("time")
    start = None if stamp.lower().startswith("xx") else _seconds(stamp)
    if start is None and not stamp.lower().startswith("xx"):
        return None
    sep = m.group("sep") or ""
    title = _MD_ESCAPE_RE.sub(r"\1", m.group("title"))
    title = re.sub(r"\s+", " ", title).strip().rstrip("\\").strip()
    title = re.sub(r"\s*-{2,}$", "", title).strip()
    return _ChapterLine(start, title, sub=sep in ("--", "–"))


_LABEL_RE = re.compile(r"^(?:[-*]\s*)?(?:#+\s*)?(?:\[\d+[a-z]\]|(?:video|part)\s*\d)", re.IGNORECASE)


def is_label(s: str) -> bool:
    """A part label line such as "[55a] Django Part 1: ..." or "Video 2: Demo"."""
    return bool(_LABEL_RE.match(s)) and len(s) < 200


def part_index(text: str) -> int | None:
    """1 for "[55a]", "Part 1", "Video 1/3"; None when the text names no part."""
    m = _PART_CODE_RE.search(text)
    if m:
        return ord(m.group(2)) - ord("a") + 1
    m = PART_NUM_RE.search(text)
    if m:
        return int(m.group(1)) or None
    m = _BARE_CODE_RE.search(text)
    if m:
        return ord(m.group(1)) - ord("a") + 1
    return None


@dataclass
class Block:
    """One chapter list: consecutive chapter lines between labels or headings."""

    lines: list[_ChapterLine]
    context: list[str]  # the labels and headings just above it, nearest first
    first_line: int
    near: int = 0  # context[:near] is up to the first heading above, or in the block's own fence
    placeholders: int = 0
    untitled: int = 0

    @property
    def index(self) -> int | None:
        # Only labels and headings name a part: an embed's alt text ("... part 3") does not.
        for c in self.context:
            if not (is_label(c) or parse_heading(c)):
                continue
            idx = part_index(c)
            if idx:
                return idx
        return None

    @property
    def video_ids(self) -> set[str]:
        """Ids named by Video lines, labels or headings just above (not by Resources links)."""
        return {
            m.group(1)
            for c in self.context[: self.near]
            if VIDEO_LINE_RE.match(c) or parse_heading(c) or is_label(c)
            for m in ANY_YT_ID_RE.finditer(c)
        }

    @property
    def name(self) -> str:
        return next((c for c in self.context if c.strip()), "")


def _context_above(lines: list[Line], i: int, stop: int) -> tuple[list[str], int]:
    """Non-blank non-chapter lines above line i, nearest first, back to `stop` or the second heading,
    and how many of them are near (before the first heading, or inside line i's own fence)."""
    found: list[str] = []
    near = 0
    headings = 0
    fence = lines[i].fence_id
    j = i - 1
    while j >= stop and j >= 0 and len(found) < 12:
        ln = lines[j]
        j -= 1
        if ln.is_fence_marker:
            continue
        s = clean(ln.text).strip()
        if not s:
            continue
        if chapter_line(s) is not None:
            break
        found.append(s)
        if headings == 0 or (fence >= 0 and ln.fence_id == fence):
            near = len(found)
        if parse_heading(s):
            headings += 1
            if headings == 2:
                break
    return found, near


class _BlockReader:
    """Reads lines[lo:hi] once, top to bottom, into chapter lists: the state of one pass of ``chapter_blocks``."""

    def __init__(self, lines: list[Line], lo: int, in_transcript: bool):
        self.lines = lines
        self.lo = lo
        self.in_transcript = in_transcript
        self.blocks: list[Block] = []
        self.current: Block | None = None
        self.prev_was_chapter = False  # the line just above is a chapter line
        self.heading_ok = False  # under a Timestamps/Agenda-like heading

    def close(self) -> None:
        if self.current is not None:
            self.blocks.append(self.current)
            self.current = None
        self.prev_was_chapter = False

    def read(self, i: int) -> None:
        ln = self.lines[i]
        s = clean(ln.text).strip()
        if ln.is_fence_marker:
            self.close()
            return
        h = parse_heading(s) if s.startswith("#") else None
        if h and not ln.fenced and not HASHTAG_LINE_RE.match(s):
            self.heading_ok = bool(CHAPTER_HEADINGS.search(h[1]))
        if self.in_transcript and not ln.fenced and not self.heading_ok:
            self.close()
            return
        ch = chapter_line(s)
        if ch is not None:
            self._add(i, ch)
        elif not s or s == "\\" or HASHTAG_LINE_RE.match(s) or PLACEHOLDER_RE.search(s):
            self.prev_was_chapter = False
        elif (h and not HASHTAG_LINE_RE.match(s)) or is_label(s):
            self.close()
        elif self.prev_was_chapter and self.current is not None and self.current.lines:
            # a title that runs on to the next line
            last = self.current.lines[-1]
            joined = re.sub(r"\s+", " ", f"{last.title} {s}").strip()
            self.current.lines[-1] = _ChapterLine(last.start, joined, last.sub)
        else:
            self.close()

    def _add(self, i: int, ch: _ChapterLine) -> None:
        if self.current is None:
            context, near = _context_above(self.lines, i, self.lo)
            self.current = Block([], context, first_line=i, near=near)
        if ch.start is None or PLACEHOLDER_RE.search(ch.title):
            self.current.placeholders += 1
            self.prev_was_chapter = False
        elif not ch.title:
            self.current.untitled += 1
            self.prev_was_chapter = False
        else:
            self.current.lines.append(ch)
            self.prev_was_chapter = True


def chapter_blocks(lines: list[Line], lo: int, hi: int, *, in_transcript: bool = False) -> list[Block]:
    """Chapter lists among lines[lo:hi].

    Outside the Transcript section: every fence, and unfenced runs of two chapter
    lines or more (or one under a Timestamps/Agenda heading). Inside it: only an
    Agenda/Timestamps block or a fence that holds nothing but a chapter list.
    """
    reader = _BlockReader(lines, lo, in_transcript)
    for i in range(lo, hi):
        reader.read(i)
    reader.close()
    fence_verdicts: dict[int, bool] = {}
    return [b for b in reader.blocks if _is_chapter_list(lines, b, in_transcript, fence_verdicts)]


def _is_chapter_list(lines: list[Line], b: Block, in_transcript: bool, fence_verdicts: dict[int, bool]) -> bool:
    """Whether a run of chapter lines counts as a chapter list (``fence_verdicts`` caches each fence's verdict)."""
    first = lines[b.first_line]
    under_heading = any((hh := parse_heading(c)) and CHAPTER_HEADINGS.search(hh[1]) for c in b.context[:2])
    if in_transcript and first.fenced:
        if first.fence_id not in fence_verdicts:
            fence_verdicts[first.fence_id] = fence_is_chapter_list(lines, b.first_line)
        if not fence_verdicts[first.fence_id]:
            return False
    return first.fenced or in_transcript or len(b.lines) + b.placeholders >= 2 or under_heading


def fence_is_chapter_list(lines: list[Line], i: int) -> bool:
    """True when the fence around line i holds only chapters, headings, labels and tags."""
    fid = lines[i].fence_id
    j = i
    while j > 0 and lines[j - 1].fence_id == fid:
        j -= 1
    while j < len(lines) and lines[j].fence_id == fid:
        ln = lines[j]
        s = clean(ln.text).strip()
        j += 1
        if ln.is_fence_marker or not s or s == "\\":
            continue
        if chapter_line(s) or parse_heading(s) or HASHTAG_LINE_RE.match(s) or PLACEHOLDER_RE.search(s):
            continue
        if is_label(s):
            continue
        return False
    return True


def _block_chapters(block: Block) -> list[Chapter]:
    chapters: list[Chapter] = []
    has_plain_parent = False
    for ln in block.lines:
        level = 1 if ln.sub and has_plain_parent else 0
        if not ln.sub:
            has_plain_parent = True
        assert ln.start is not None  # a placeholder time (xx:xx) is counted, never kept in a block's lines
        chapters.append(Chapter(start=float(ln.start), title=ln.title, level=level))
    return chapters


def _order_warnings(chapters: list[Chapter], where: str) -> list[str]:
    out: list[str] = []
    seen: set[float] = set()
    duplicates: list[str] = []
    backwards: list[str] = []
    for prev, cur in zip(chapters, chapters[1:], strict=False):
        if cur.start < prev.start:
            backwards.append(f"{format_timestamp(prev.start)} then {format_timestamp(cur.start)}")
    for c in chapters:
        if c.start in seen:
            duplicates.append(format_timestamp(c.start))
        seen.add(c.start)
    if backwards:
        out.append(f"{where}: times out of order ({'; '.join(backwards[:3])}{', ...' if len(backwards) > 3 else ''})")
    if duplicates:
        out.append(f"{where}: duplicate times {', '.join(duplicates[:3])}{', ...' if len(duplicates) > 3 else ''}")
    return out


def assign_blocks(videos: list[Video], blocks: list[Block], where: str, warnings: list[str]) -> None:
    """Give each chapter list to the video it belongs to (label, nearby link, or order)."""
    indices = [part_index(v.label or "") for v in videos]
    ignored: list[str] = []
    for block in blocks:
        if block.placeholders:
            warnings.append(f"{where}: placeholder timestamp skipped ({block.placeholders})")
        if block.untitled:
            warnings.append(f"{where}: {block.untitled} untitled time(s) skipped")
        chapters = _block_chapters(block)
        if not chapters:
            continue
        ids = block.video_ids
        if ids and not any(v.id in ids for v in videos):
            warnings.append(f"{where}: chapter list for another video ({', '.join(sorted(ids))}) ignored")
            continue
        target = _block_target(block, ids, videos, indices)
        if target is None or target.chapters:
            ignored.append(block.name)
            continue
        target.chapters = chapters
        warnings.extend(
            _order_warnings(chapters, where if len(videos) == 1 else f"{where} [{target.id or target.url}]")
        )
    if len(ignored) == 1:
        warnings.append(f"{where}: a further chapter list{f' ({ignored[0]})' if ignored[0] else ''} ignored")
    elif ignored:
        warnings.append(f"{where}: {len(ignored)} further chapter lists ignored")


def _block_target(block: Block, ids: set[str], videos: list[Video], indices: list[int | None]) -> Video | None:
    """The one video the list's nearby link names, else the one its part label names, else the first still
    without chapters."""
    own = [v for v in videos if v.id in ids]
    if len(own) == 1:
        return own[0]
    idx = block.index
    if idx:
        target = next((v for v, n in zip(videos, indices, strict=True) if n == idx), None)
        if target is None and 0 < idx <= len(videos) and indices[idx - 1] is None:
            target = videos[idx - 1]
        if target is not None:
            return target
    return next((v for v in videos if not v.chapters), None)
