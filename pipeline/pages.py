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

Also public: ``parse_page(text, path=..., source=None, root=None) -> Page`` (the
parser without the file system; ``source`` enables the misc/ lookup) and
``youtube_id(url) -> str | None``. A body is stored with a final newline, so
``read_transcript`` returns ``body`` when it ends with "\n" (or is empty), else
``body + "\n"``. Files over ``MAX_PAGE_BYTES`` (5 MB), with a NUL byte (binary) or
not valid UTF-8 are refused with a ``PageError``; there is no lossy fallback.

Draft markers (first and last line of what this tool writes in the section)::

    <!-- du-transcripts draft v1; model: tiny.en; date: 2026-11-22; sha256: <64 hex> -->
    ...body...
    <!-- /du-transcripts draft -->

sha256 is of the body between the markers (LF line endings, each line's
trailing whitespace stripped, surrounding blank lines stripped): a mismatch on
reading means a human edited the draft, and the page then counts as
``has-transcript`` (human text, never overwritten).

Decisions on the real repository's mess (see ``../shared/corpus/VARIANTS.md``):

- Not an event (``not-an-event``): a file whose name does not start with a digit
  (READMEs, CONTRIBUTING, event-listings, drafts named ``x201-...``), a name with
  "template" in it, anything under a ``misc/`` folder (companion drafts, read only
  as chapter sources), and unfilled templates (title ``First Last: [title of talk]``,
  e.g. 2022/57).
- The Transcript section is the first ``## Transcript`` line outside code fences
  and runs to the end of the file (H2 sub-headings inside it belong to it). A
  ``## Video Transcript`` metadata block is not that heading, so 2020/05 and 2020/06
  are ``no-transcript-section``. A missing heading is never added.
- What a human wrote: anything in the section other than blank lines, hashtag
  lines, an ``## Agenda``/``## Timestamps`` block (kept, and read as chapters), a
  fence holding only a chapter list, known placeholders, lone ``\\`` lines and
  this tool's own draft (an agenda ends at prose that does not continue a
  chapter line; a whole-line ``[placeholder]`` is not human text). Raw YouTube
  captions and notes count as human text
  (``has-transcript``); hashtags or an agenda alone leave the page
  ``needs-transcript`` with a warning, and are kept verbatim below the draft.
- Videos: the ``Video`` label lines of Key Links, of the lines under the title
  and of a ``## Video Transcript`` block (any case, bullet, number, ``Part``,
  Markdown link or bare URL; any http(s) URL counts, only an 11-character YouTube
  id is an id). Numbered ``Video N`` lines elsewhere (2021/26's part 2 under
  Resources) are parts of the event; other Resources links are not. Without label
  lines, the ``<a href><img>`` embeds of the Video sections are used (href, else
  img). With label lines, an embed naming another video is a further part only
  when the page embeds several videos (2022/53); a single stray embed is a wrong
  embed and ignored. ``scan`` also drops an embed-only video that another page's
  Key Links names (the previous event's embed copied into a draft).
- Chapters: time-led lines (M:SS, MM:SS, H:MM:SS, HH:MM:SS, ``.`` for ``:``, a
  colon after the time, ``A to B`` ranges, ``--`` sub-chapters = level 1 when a
  plain parent exists, ``---PART`` markers = level 0) in fences anywhere, in
  unfenced lists (two lines or more, or under a Timestamps/Agenda heading), and,
  under the Transcript heading, only in an Agenda block or a chapter-only fence.
  A line without a time right after a chapter continues its title. Placeholders
  (``Help us add timestamps``, ``xx:xx``, untitled times) are dropped with a
  warning. Lists are split at part labels and headings (``[55a]``, ``### [61b]``,
  ``Part 2``, ``Video 2``), and each list goes to the video its label, its
  nearby video link or its order names; a second list for a video already served
  (2022/71's "YouTube generated chapters") is ignored with a warning. Out-of-order
  or duplicate times are kept in page order with a warning.
- Companion chapters: a page with videos and no chapters of its own takes them
  from ``misc/NN_*.md`` (the nearest ``misc/`` folder up the tree, same number)
  only when that file names one of the page's video ids or shares a distinctive
  name/title word with the page (so ``misc/05_andy_sprint.md`` serves 2020/05,
  never 2022/05's Discord talk), with the warning ``chapters taken from misc/...``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .utils import atomic_write_bytes, format_timestamp

# Page states, as `scan --json` prints them.
NEEDS_TRANSCRIPT = "needs-transcript"
HAS_DRAFT = "has-draft"
HAS_TRANSCRIPT = "has-transcript"
NO_TRANSCRIPT_SECTION = "no-transcript-section"
NO_VIDEO = "no-video"
NOT_AN_EVENT = "not-an-event"

# A safety limit, not a tuning knob: the largest real page is about 110 kB.
MAX_PAGE_BYTES = 5 * 1024 * 1024

DRAFT_END = "<!-- /du-transcripts draft -->"
_DRAFT_START_RE = re.compile(
    r"^<!-- du-transcripts draft v1; model: (?P<model>[^;]*); date: (?P<date>[^;]*); "
    r"sha256: (?P<sha>[0-9a-f]{64}) -->\s*$"
)
_MARKER_VALUE_RE = re.compile(r"^[\w.:/+@-]+$")


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


# --------------------------------------------------------------------------- reading


def _read_text(path: Path, shown: str | Path, max_bytes: int = MAX_PAGE_BYTES) -> str:
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
class _Line:
    text: str  # without the line ending
    start: int  # offset of the line in the file's text
    end: int  # offset just past the line ending
    fenced: bool  # inside a code fence, or a fence delimiter itself
    fence_id: int  # which fence (-1 when outside)
    is_fence_marker: bool


_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
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
        lines.append(_Line(raw, pos, end, in_fence, fence_id if in_fence else -1, marker))
        pos = end
    return lines


def _eol_of(text: str) -> str:
    nl = text.find("\n")
    return "\r\n" if nl > 0 and text[nl - 1] == "\r" else "\n"


def _clean(s: str) -> str:
    """NBSP and friends as spaces, zero-width characters dropped."""
    return (
        s.replace("\u00a0", " ").replace("\u202f", " ").replace("\u200b", "").replace("\ufeff", "").replace("\t", " ")
    )


_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)(.*?)[ \t#]*$")
_TRANSCRIPT_RE = re.compile(r"^## Transcript[ \t]*$")


def _heading(text: str) -> tuple[int, str] | None:
    m = _HEADING_RE.match(_clean(text))
    if not m:
        return None
    return len(m.group(1)), m.group(2).strip()


def _find_transcript_heading(lines: list[_Line]) -> int | None:
    for i, ln in enumerate(lines):
        if not ln.fenced and _TRANSCRIPT_RE.match(ln.text):
            return i
    return None


# --------------------------------------------------------------------------- times and chapters

_TIME = r"(?:\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
_CHAPTER_RE = re.compile(
    r"^(?:(?:[-*+]|\d{1,3}[.)])\s+)?(?:\*\*)?\[?(?P<time>" + _TIME + r"|xx:xx(?::xx)?)\]?(?:\([^)\s]*\))?(?:\*\*)?"
    r"(?:\s*(?:to|-|–|—)\s*\[?" + _TIME + r"\]?(?=[\s:]|$))?"
    r"(?=[\s:\-–—|]|$)\s*:?\s*(?P<sep>-+|–|—|\|)?\s*(?P<title>.*)$",
    re.IGNORECASE,
)
_PLACEHOLDER_RE = re.compile(
    r"help us add timestamps|^\[?get from (?:video|meetup)\]?$|^\[?will post after|^\[?(?:title|tbd|todo)\]?$",
    re.IGNORECASE,
)
_HASHTAG_LINE_RE = re.compile(r"^(?:#[^\s#]+[ \t]*)+$")
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|])")


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


def _chapter_line(text: str) -> _ChapterLine | None:
    s = _clean(text).strip()
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


_YT_ID = r"([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
_YT_URL_ID_RES = [
    re.compile(r"youtu\.be/" + _YT_ID),
    re.compile(r"youtube(?:-nocookie)?\.com/(?:embed|shorts|live|v)/" + _YT_ID),
    re.compile(r"youtube(?:-nocookie)?\.com/watch\?(?:[^#\s\"'<>]*?&(?:amp;)?)?v=" + _YT_ID),
]
_YT_IMG_RE = re.compile(r"/vi(?:_webp)?/" + r"([A-Za-z0-9_-]{11})/")
_URL_RE = re.compile(r"(?:https?://|(?<![\w/.])(?=(?:www\.)?youtu(?:\.be|be\.com)/))[^\s<>\"'\]\[()]+", re.IGNORECASE)
_BARE_HREF_ID_RE = re.compile(r"youtube\.com/watch\?(?:[^\s\"'<>]*&)?([A-Za-z0-9_-]{11})$")
_ANY_YT_ID_RE = re.compile(r"(?:youtu\.be/|[?&]v=|/vi/|/embed/|/shorts/|/live/)" + _YT_ID)


def youtube_id(url: str) -> str | None:
    """The 11-character video id of a YouTube URL, or None (never anything else)."""
    for rx in _YT_URL_ID_RES:
        m = rx.search(url)
        if m:
            return m.group(1)
    return None


# A local media file named on a Key Links Video line (relative to the page, or
# absolute): how the bundled example and offline recordings link their audio.
_LOCAL_MEDIA_RE = re.compile(
    r"^(?:file://)?(?P<path>(?:\.{0,2}/)?[\w./-]+\.(?:mp3|m4a|aac|ogg|opus|oga|flac|wav|webm|mp4|mkv|mov))$",
    re.IGNORECASE,
)


def _local_media(value: str) -> str | None:
    m = _LOCAL_MEDIA_RE.match(value.strip())
    return m.group(0) if m else None


def _first_url(value: str) -> str | None:
    m = _URL_RE.search(value)
    if not m:
        return None
    url = m.group(0).rstrip(".,;:!?*_")
    if not url.lower().startswith("http"):
        url = "https://" + url
    return url


# --------------------------------------------------------------------------- sections

_KEYLINKS_HEADINGS = re.compile(
    r"^(?:(?:key|event|important)\s+links|links|video\s+transcript|videos?\b.*)$", re.IGNORECASE
)
_RESOURCE_HEADINGS = re.compile(r"resources|reference|related|further|other|chat|transcript", re.IGNORECASE)
_CHAPTER_HEADINGS = re.compile(r"timestamps?|agenda|chapters|outline|contents", re.IGNORECASE)
_VIDEO_LINE_RE = re.compile(
    r"^(?:[-*+]\s*)?(?:\*\*)?\s*videos?\b(?P<label>[^:\n]*?)(?:\*\*)?\s*(?::\s*|\s+(?=https?://))(?P<value>.*)$",
    re.IGNORECASE,
)
_EMBED_RE = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*[\"'](?P<href>[^\"']*)[\"'][^>]*>(?P<inner>(?:(?!</a>).){0,2000}?)</a>",
    re.IGNORECASE | re.DOTALL,
)
_IMG_RE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"'](?P<src>[^\"']*)[\"']", re.IGNORECASE)
_PART_CODE_RE = re.compile(r"\[(\d+)([a-z])\]")
_PART_NUM_RE = re.compile(r"\b(?:video|part)\s*(\d{1,2})\b", re.IGNORECASE)
_BARE_CODE_RE = re.compile(r"\b\d{2,3}([a-h])\b")


_LABEL_RE = re.compile(r"^(?:[-*]\s*)?(?:#+\s*)?(?:\[\d+[a-z]\]|(?:video|part)\s*\d)", re.IGNORECASE)


def _is_label(s: str) -> bool:
    """A part label line such as "[55a] Django Part 1: ..." or "Video 2: Demo"."""
    return bool(_LABEL_RE.match(s)) and len(s) < 200


def _part_index(text: str) -> int | None:
    """1 for "[55a]", "Part 1", "Video 1/3"; None when the text names no part."""
    m = _PART_CODE_RE.search(text)
    if m:
        return ord(m.group(2)) - ord("a") + 1
    m = _PART_NUM_RE.search(text)
    if m:
        return int(m.group(1)) or None
    m = _BARE_CODE_RE.search(text)
    if m:
        return ord(m.group(1)) - ord("a") + 1
    return None


@dataclass
class _Block:
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
            if not (_is_label(c) or _heading(c)):
                continue
            idx = _part_index(c)
            if idx:
                return idx
        return None

    @property
    def video_ids(self) -> set[str]:
        """Ids named by Video lines, labels or headings just above (not by Resources links)."""
        return {
            m.group(1)
            for c in self.context[: self.near]
            if _VIDEO_LINE_RE.match(c) or _heading(c) or _is_label(c)
            for m in _ANY_YT_ID_RE.finditer(c)
        }

    @property
    def name(self) -> str:
        return next((c for c in self.context if c.strip()), "")


def _context_above(lines: list[_Line], i: int, stop: int) -> tuple[list[str], int]:
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
        s = _clean(ln.text).strip()
        if not s:
            continue
        if _chapter_line(s) is not None:
            break
        found.append(s)
        if headings == 0 or (fence >= 0 and ln.fence_id == fence):
            near = len(found)
        if _heading(s):
            headings += 1
            if headings == 2:
                break
    return found, near


def _chapter_blocks(lines: list[_Line], lo: int, hi: int, *, in_transcript: bool = False) -> list[_Block]:
    """Chapter lists among lines[lo:hi].

    Outside the Transcript section: every fence, and unfenced runs of two chapter
    lines or more (or one under a Timestamps/Agenda heading). Inside it: only an
    Agenda/Timestamps block or a fence that holds nothing but a chapter list.
    """
    blocks: list[_Block] = []
    current: _Block | None = None
    prev_was_chapter = False  # the line just above is a chapter line
    heading_ok = False  # under a Timestamps/Agenda-like heading

    def close() -> None:
        nonlocal current
        if current is not None:
            blocks.append(current)
            current = None

    for i in range(lo, hi):
        ln = lines[i]
        s = _clean(ln.text).strip()
        if ln.is_fence_marker:
            close()
            prev_was_chapter = False
            continue
        h = _heading(s) if s.startswith("#") else None
        if h and not ln.fenced and not _HASHTAG_LINE_RE.match(s):
            heading_ok = bool(_CHAPTER_HEADINGS.search(h[1]))
        if in_transcript and not ln.fenced and not heading_ok:
            close()
            prev_was_chapter = False
            continue
        ch = _chapter_line(s)
        if ch is not None:
            if current is None:
                context, near = _context_above(lines, i, lo)
                current = _Block([], context, first_line=i, near=near)
            if ch.start is None or _PLACEHOLDER_RE.search(ch.title):
                current.placeholders += 1
                prev_was_chapter = False
            elif not ch.title:
                current.untitled += 1
                prev_was_chapter = False
            else:
                current.lines.append(ch)
                prev_was_chapter = True
        elif not s or s == "\\" or _HASHTAG_LINE_RE.match(s) or _PLACEHOLDER_RE.search(s):
            prev_was_chapter = False
        elif (h and not _HASHTAG_LINE_RE.match(s)) or _is_label(s):
            close()
            prev_was_chapter = False
        elif prev_was_chapter and current is not None and current.lines:
            # a title that runs on to the next line
            last = current.lines[-1]
            joined = re.sub(r"\s+", " ", f"{last.title} {s}").strip()
            current.lines[-1] = _ChapterLine(last.start, joined, last.sub)
        else:
            close()
            prev_was_chapter = False
    close()

    kept: list[_Block] = []
    fence_verdicts: dict[int, bool] = {}
    for b in blocks:
        first = lines[b.first_line]
        under_heading = any((hh := _heading(c)) and _CHAPTER_HEADINGS.search(hh[1]) for c in b.context[:2])
        if in_transcript and first.fenced:
            if first.fence_id not in fence_verdicts:
                fence_verdicts[first.fence_id] = _fence_is_chapter_list(lines, b.first_line)
            if not fence_verdicts[first.fence_id]:
                continue
        if not first.fenced and not in_transcript and len(b.lines) + b.placeholders < 2 and not under_heading:
            continue
        kept.append(b)
    return kept


def _fence_is_chapter_list(lines: list[_Line], i: int) -> bool:
    """True when the fence around line i holds only chapters, headings, labels and tags."""
    fid = lines[i].fence_id
    j = i
    while j > 0 and lines[j - 1].fence_id == fid:
        j -= 1
    while j < len(lines) and lines[j].fence_id == fid:
        ln = lines[j]
        s = _clean(ln.text).strip()
        j += 1
        if ln.is_fence_marker or not s or s == "\\":
            continue
        if _chapter_line(s) or _heading(s) or _HASHTAG_LINE_RE.match(s) or _PLACEHOLDER_RE.search(s):
            continue
        if _is_label(s):
            continue
        return False
    return True


def _block_chapters(block: _Block) -> list[Chapter]:
    chapters: list[Chapter] = []
    has_plain_parent = False
    for ln in block.lines:
        level = 1 if ln.sub and has_plain_parent else 0
        if not ln.sub:
            has_plain_parent = True
        chapters.append(Chapter(start=float(ln.start), title=ln.title, level=level))
    return chapters


def _order_warnings(chapters: list[Chapter], where: str) -> list[str]:
    out: list[str] = []
    seen: set[float] = set()
    duplicates: list[str] = []
    backwards: list[str] = []
    for prev, cur in zip(chapters, chapters[1:]):
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


def _assign_blocks(videos: list[Video], blocks: list[_Block], where: str, warnings: list[str]) -> None:
    """Give each chapter list to the video it belongs to (label, nearby link, or order)."""
    indices = [_part_index(v.label or "") for v in videos]
    ignored: list[str] = []
    for block in blocks:
        if block.placeholders:
            warnings.append(f"{where}: placeholder timestamp skipped ({block.placeholders})")
        if block.untitled:
            warnings.append(f"{where}: {block.untitled} untitled time(s) skipped")
        chapters = _block_chapters(block)
        if not chapters:
            continue
        target: Video | None = None
        ids = block.video_ids
        if ids:
            own = [v for v in videos if v.id in ids]
            if len(own) == 1:
                target = own[0]
            elif not own:
                warnings.append(f"{where}: chapter list for another video ({', '.join(sorted(ids))}) ignored")
                continue
        if target is None and block.index:
            idx = block.index
            target = next((v for v, n in zip(videos, indices) if n == idx), None)
            if target is None and 0 < idx <= len(videos) and indices[idx - 1] is None:
                target = videos[idx - 1]
        if target is None:
            target = next((v for v in videos if not v.chapters), None)
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


# --------------------------------------------------------------------------- videos


def _section_names(lines: list[_Line], title_line: int | None) -> list[str]:
    """For each line, the lower-cased name of the section it sits in ("" before any heading, "#title" under the title)."""
    names: list[str] = []
    current = ""
    for i, ln in enumerate(lines):
        if not ln.fenced:
            h = _heading(ln.text)
            if h and h[0] <= 2:
                current = "#title" if i == title_line else re.sub(r"[*:]+", " ", h[1]).strip().lower()
        names.append(current)
    return names


def _is_primary_section(name: str) -> bool:
    return name in ("", "#title") or bool(_KEYLINKS_HEADINGS.match(name))


def _find_videos(
    lines: list[_Line], names: list[str], stop: int, title_words: set[str], warnings: list[str]
) -> list[Video]:
    primary: list[Video] = []
    secondary: list[Video] = []  # numbered "Video 2" lines elsewhere: parts when Key Links numbers its videos
    secondary_all: list[Video] = []
    secondary_at: list[int] = []
    for i in range(stop):
        ln = lines[i]
        if ln.fenced:
            continue
        s = _clean(ln.text).strip()
        m = _VIDEO_LINE_RE.match(s)
        if not m:
            continue
        url = _first_url(m.group("value"))
        if not url and _is_primary_section(names[i]):
            url = _local_media(m.group("value"))
        if not url:
            continue
        label_text = re.sub(r"\s+", " ", m.group("label")).strip()
        label = f"Video {label_text}" if label_text else None
        video = Video(url=url, id=youtube_id(url), label=label)
        if _is_primary_section(names[i]):
            primary.append(video)
            continue
        secondary_all.append(video)
        secondary_at.append(i)
        if label and _PART_NUM_RE.search(label):
            secondary.append(video)
    numbered = any(v.label and _part_index(v.label) for v in primary)
    videos = _dedupe(primary + (secondary if numbered else []))

    embeds = _find_embeds(lines, names, stop, warnings)
    if not videos and not embeds:
        # last resort: a Video line in a section that is not about other material
        videos = _dedupe([v for v, i in zip(secondary_all, secondary_at) if not _RESOURCE_HEADINGS.search(names[i])])
        if videos:
            warnings.append("video taken from a Video line outside Key Links")
        return videos
    if not videos:
        if embeds:
            warnings.append("video taken from the embed (no Video link)")
        return _dedupe(
            [Video(url=f"https://www.youtube.com/watch?v={vid}", id=vid, source="embed") for vid, _, _ in embeds]
        )

    known = {v.id for v in videos if v.id}
    extra: list[tuple[str, str]] = []
    for vid, other, alt in embeds:
        if vid in known or (other and other in known):
            if other and other != vid:
                warnings.append(f"embed link {vid} and its image {other} disagree; the Video link decides")
            continue
        extra.append((vid, alt))
    if extra:
        alt_words = [_words(alt) & title_words for _, alt in extra]
        if len(embeds) >= 2 and all(alt_words):
            for vid, _ in extra:
                videos.append(Video(url=f"https://www.youtube.com/watch?v={vid}", id=vid, source="embed"))
                known.add(vid)
            warnings.append(f"{len(extra)} further video(s) taken from the embeds")
        else:
            warnings.append(
                f"embed of another video ({', '.join(v for v, _ in extra)}) ignored: the Video link names this event's"
            )
    return _dedupe(videos)


def _dedupe(videos: list[Video]) -> list[Video]:
    seen: set[str] = set()
    out: list[Video] = []
    for v in videos:
        key = v.id or v.url
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _find_embeds(
    lines: list[_Line], names: list[str], stop: int, warnings: list[str]
) -> list[tuple[str, str | None, str]]:
    """(video id, the other id when href and img disagree, alt text) of each embed in the Video sections."""
    chunks: list[str] = []
    chunk: list[str] = []
    for i in range(stop):
        if not lines[i].fenced and (names[i].startswith("video") or names[i] in ("", "#title", "key links")):
            chunk.append(lines[i].text)
        elif chunk:
            chunks.append("\n".join(chunk))
            chunk = []
    if chunk:
        chunks.append("\n".join(chunk))
    found: list[tuple[str, str | None, str]] = []
    for text in chunks:
        if "<a" not in text and "<A" not in text:
            continue
        for m in _EMBED_RE.finditer(text):
            href, inner = m.group("href"), m.group("inner")
            img = _IMG_RE.search(inner)
            src = img.group("src") if img else ""
            alt_m = re.search(r"alt\s*=\s*[\"']([^\"']*)", inner)
            alt = alt_m.group(1) if alt_m else ""
            href_id = youtube_id(href)
            img_m = _YT_IMG_RE.search(src)
            img_id = img_m.group(1) if img_m else None
            if "/vi/" in src and not img_id:
                warnings.append("embed image does not hold an 11-character video id")
            if "youtube.com/watch" in href and not href_id:
                warnings.append("embed link has no v= video id")
                # "watch?feature=player_embedded&Tm5Vr8Ye2Hu": the id without its "v=".
                bare = _BARE_HREF_ID_RE.search(href)
                if bare and not img_id:
                    href_id = bare.group(1)
                    warnings.append(f"embed video id {href_id} read from a link without v=")
            vid = href_id or img_id
            if not vid:
                continue
            other = img_id if href_id and img_id and img_id != href_id else None
            found.append((vid, other, alt))
    return found


_STOPWORDS = set(
    "a an and the of to in on for with from by at as is are be your you our we us it its this that "
    "data umbrella intro introduction python webinar talk event md how what why using use part video "
    "first last title".split()
)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOPWORDS and not w.isdigit()}


# --------------------------------------------------------------------------- title, speakers, tags

_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _strip_links(s: str) -> str:
    return _LINK_RE.sub(r"\1", s)


def _find_title(lines: list[_Line]) -> tuple[str, int | None]:
    for i, ln in enumerate(lines[:40]):
        if ln.fenced:
            continue
        h = _heading(ln.text)
        if h and h[0] == 1:
            return _tidy_title(h[1]), i
    for i, ln in enumerate(lines):
        if ln.fenced or not ln.text.strip():
            continue
        h = _heading(ln.text)
        text = h[1] if h else _clean(ln.text).strip()
        if h and re.match(r"(upcoming events|key links|meetup|video|resources)\b", text, re.IGNORECASE):
            break
        return _tidy_title(text), i
    return "", None


def _tidy_title(s: str) -> str:
    s = _clean(s).strip()
    while s.startswith("#"):
        s = s.lstrip("#").strip()
    return re.sub(r"\s+", " ", _strip_links(s)).strip()


_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:de|da|van|von|del|la)?\s*[A-Z][\w'’.-]*){1,3}"
_NAME_RE = re.compile(rf"^{_NAME}$")


def _find_speakers(title: str, lines: list[_Line], names: list[str], stop: int) -> list[str]:
    found: list[str] = []

    def add(name: str) -> None:
        name = re.sub(r"\s+", " ", name).strip(" .,;:")
        if _NAME_RE.match(name) and name not in found and name.lower() not in ("data umbrella", "first last"):
            found.append(name)

    if ":" in title:
        for part in re.split(r"\s+(?:and|&)\s+|,\s*", title.split(":", 1)[0]):
            add(part)
    m = re.search(r"\(([^()]+)\)\s*$", title)
    if m:
        for part in re.split(r"\s+(?:and|&)\s+|,\s*", m.group(1)):
            add(part)
    for i in range(stop):
        if lines[i].fenced:
            continue
        s = _strip_links(_clean(lines[i].text)).strip()
        m = re.match(r"^[-*]?\s*speakers?\s*:\s*(.+)$", s, re.IGNORECASE)
        if m:
            for part in re.split(r"\s+(?:and|&)\s+|,\s*", m.group(1)):
                add(part)
        elif "speaker" in names[i] and not s.startswith(("#", "-")):
            m = re.match(rf"^(?:Dr\.\s+)?({_NAME})\s+(?:is|was|has|works|holds)\b", s)
            if m:
                add(m.group(1))
    return found


def _find_tags(lines: list[_Line]) -> list[str]:
    tags: list[str] = []
    for ln in lines:
        s = _clean(ln.text).strip()
        if s.startswith("#") and _HASHTAG_LINE_RE.match(s):
            for t in s.split():
                t = t.lstrip("#")
                if t and t not in tags:
                    tags.append(t)
    return tags


# --------------------------------------------------------------------------- the Transcript section


@dataclass
class _Section:
    kind: str  # "empty" | "human" | "draft" | "edited"
    rest: list[_Line]  # the section outside the draft, re-split (a draft's fences must not leak)
    draft: DraftInfo | None = None
    draft_lines: tuple[int, int] | None = None  # line indices of the start and end markers
    kept_agenda: bool = False
    kept_tags: bool = False
    kept_other: bool = False


def _body_hash(body: str) -> str:
    rows = [row.rstrip() for row in body.replace("\r\n", "\n").split("\n")]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


_SECTION_PLACEHOLDER_RE = re.compile(r"^\[[^\]]{0,80}\]$|^(?:coming soon|tbd|todo|to do)\.?$", re.IGNORECASE)
_ISSUE_92_RE = re.compile(r"^https?://github\.com/data-umbrella/event-transcripts/issues/92/?$")


def _classify_section(text: str, lines: list[_Line], head: int) -> _Section:
    """What the lines after the Transcript heading hold."""
    n = len(lines)
    rest_from = lines[head].end
    draft = None
    draft_lines = None
    kind = "empty"
    # This tool's draft: the first non-blank line is the start marker, the last end marker closes it.
    first = next((i for i in range(head + 1, n) if lines[i].text.strip()), None)
    if first is not None:
        m = _DRAFT_START_RE.match(lines[first].text)
        ends = [j for j in range(first + 1, n) if lines[j].text.strip() == DRAFT_END] if m else []
        # The end marker whose body matches the hash (a body may quote the marker); else the last one.
        end = next(
            (j for j in ends if _body_hash(_draft_body(text, lines, first, j)) == m.group("sha")),
            ends[-1] if ends else None,
        )
        if m and end is not None:
            edited = _body_hash(_draft_body(text, lines, first, end)) != m.group("sha")
            draft = DraftInfo(model=m.group("model"), date=m.group("date"), edited=edited)
            draft_lines = (first, end)
            kind = "edited" if edited else "draft"
            rest_from = lines[end].end
    sec = _Section(kind=kind, rest=_split_lines(text[rest_from:]), draft=draft, draft_lines=draft_lines)
    human = False
    in_agenda = False
    after_chapter = False  # the line above is a chapter line: the next may continue its title
    fence_verdicts: dict[int, bool] = {}
    for i, ln in enumerate(sec.rest):
        s = _clean(ln.text).strip()
        if not s or s == "\\" or (s.startswith("<!--") and s.endswith("-->")):
            after_chapter = after_chapter and s == "\\"
            continue
        if ln.fenced:
            if ln.fence_id not in fence_verdicts:
                fence_verdicts[ln.fence_id] = _fence_is_chapter_list(sec.rest, i)
            if fence_verdicts[ln.fence_id]:
                sec.kept_agenda = True
            else:
                human = True
            continue
        h = _heading(s) if s.startswith("#") and not _HASHTAG_LINE_RE.match(s) else None
        if h:
            in_agenda = bool(_CHAPTER_HEADINGS.search(h[1]))
            if in_agenda:
                sec.kept_agenda = True
                continue
        if in_agenda:
            if _chapter_line(s) is not None:
                after_chapter = True
                continue
            if after_chapter or _HASHTAG_LINE_RE.match(s) or _is_label(s):
                after_chapter = False
                continue
            in_agenda = False  # prose after the list: a transcript, not part of the agenda
        if _HASHTAG_LINE_RE.match(s):
            sec.kept_tags = True
        elif _PLACEHOLDER_RE.search(s) or _SECTION_PLACEHOLDER_RE.match(s) or _ISSUE_92_RE.match(s):
            sec.kept_other = True
        else:
            human = True
    if human:
        sec.kind = "edited" if sec.kind in ("draft", "edited") else "human"
    return sec


def _draft_body(text: str, lines: list[_Line], start_marker: int, end_marker: int) -> str:
    raw = text[lines[start_marker].end : lines[end_marker].start]
    if _eol_of(text) == "\r\n":
        raw = raw.replace("\r\n", "\n")
    return raw


# --------------------------------------------------------------------------- misc/ companions


@dataclass
class _Companion:
    blocks: list[_Block]
    ids: set[str]  # every YouTube id the file mentions
    lead_ids: set[str]  # ids of Video lines above its first chapter list: the event it describes
    words: set[str]  # name and title words


_misc_cache: dict[tuple[str, int, float], _Companion] = {}


def _misc_folder(page: Path, root: Path | None) -> Path | None:
    here = page.resolve().parent
    top = root.resolve() if root is not None else None
    for _ in range(4):
        if here.name == "misc":
            return None
        candidate = here / "misc"
        if candidate.is_dir():
            return candidate
        if top is not None and here == top or here.parent == here:
            return None
        here = here.parent
    return None


def _number(name: str) -> int | None:
    m = re.match(r"^(\d+)[-_ ]", name)
    return int(m.group(1)) if m else None


def _misc_file(path: Path) -> _Companion | None:
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime)
    except OSError:
        return None
    if key not in _misc_cache:
        try:
            text = _read_text(path, path)
        except PageError:
            return None
        lines = _split_lines(text)
        blocks = _chapter_blocks(lines, 0, len(lines))
        first_block = blocks[0].first_line if blocks else len(lines)
        lead_ids: set[str] = set()
        words = _words(re.sub(r"^\d+[-_]", "", path.stem).replace("_", " ").replace("-", " "))
        for ln in lines[:first_block]:
            s = _clean(ln.text).strip()
            m = _VIDEO_LINE_RE.match(s)
            if m:
                lead_ids |= {mm.group(1) for mm in _ANY_YT_ID_RE.finditer(m.group("value"))}
            if re.match(r"^(?:[-*]\s*)?(?:event|speaker|title)\s*:", s, re.IGNORECASE) or (
                ":" in s and _NAME_RE.match(s.split(":", 1)[0].strip().lstrip("# "))
            ):
                words |= _words(_strip_links(s))
        if len(_misc_cache) > 512:
            _misc_cache.clear()
        _misc_cache[key] = _Companion(blocks, {m.group(1) for m in _ANY_YT_ID_RE.finditer(text)}, lead_ids, words)
    return _misc_cache[key]


def _companion_matches(comp: _Companion, page_ids: set[str], page_words: set[str]) -> bool:
    """Same number is not enough: the file must name one of the page's videos, or share a name word."""
    if comp.ids & page_ids:
        return True
    if comp.lead_ids:
        return False  # it describes another video
    return bool(comp.words & page_words)


def _companion_chapters(
    page_path: Path, root: Path | None, videos: list[Video], page_words: set[str], warnings: list[str]
) -> None:
    number = _number(page_path.name)
    folder = _misc_folder(page_path, root)
    if number is None or folder is None:
        return
    try:
        candidates = sorted(
            p for p in folder.iterdir() if p.suffix == ".md" and _number(p.name) == number and p.is_file()
        )
    except OSError:
        return
    page_ids = {v.id for v in videos if v.id}
    best: tuple[int, Path, list[list[Chapter]], list[str]] | None = None
    rejected: list[str] = []
    for cand in candidates:
        comp = _misc_file(cand)
        if comp is None:
            continue
        if not _companion_matches(comp, page_ids, page_words):
            rejected.append(cand.name)
            continue
        blocks = comp.blocks
        trial = [Video(url=v.url, id=v.id, label=v.label, source=v.source) for v in videos]
        notes: list[str] = []
        _assign_blocks(trial, blocks, f"misc/{cand.name}", notes)
        total = sum(len(v.chapters) for v in trial)
        if total and (best is None or total > best[0]):
            best = (total, cand, [v.chapters for v in trial], notes)
    if best is None:
        if rejected:
            warnings.append(f"misc/{', misc/'.join(rejected)} has this number but names another event; not used")
        return
    _, cand, chapter_lists, notes = best
    for v, chapters in zip(videos, chapter_lists):
        v.chapters = chapters
    warnings.append(f"chapters taken from misc/{cand.name}")
    others = [c.name for c in candidates if c != cand and c.name not in rejected]
    if others:
        warnings.append(f"misc/{', misc/'.join(others)} also match; misc/{cand.name} has the most chapters")
    warnings.extend(notes)


# --------------------------------------------------------------------------- parsing a page


# Repository documents that are never events, and unnumbered drafts such as "x201-some-talk.md".
_NON_EVENT_NAME_RE = re.compile(
    r"^(?:readme|contributing|completed|event-listings?|index|license|changelog|code_of_conduct)\b|^[a-z]{1,3}\d",
    re.IGNORECASE,
)


def _not_an_event_reason(path: Path, source: Path | None, title: str, has_transcript_heading: bool) -> str | None:
    name = path.name.lower()
    folders = [p.lower() for p in path.parts[:-1]] + ([source.parent.name.lower()] if source is not None else [])
    if "misc" in folders:
        return "a companion draft in misc/"
    # Event pages in the repository are numbered; an unnumbered page (a user's own,
    # say) counts only when it has a Transcript heading and is no known document.
    if not name[:1].isdigit() and (_NON_EVENT_NAME_RE.match(name) or not has_transcript_heading):
        return "not a numbered event page"
    if "template" in name:
        return "a template"
    if re.search(r"\[title of talk\]|^first last\b", title, re.IGNORECASE):
        return "an unfilled template"
    return None


def parse_page(
    text: str, *, path: str | Path = "page.md", source: Path | None = None, root: Path | None = None
) -> Page:
    """Parse page text into a Page. Never raises; `source` enables the misc/ companion lookup."""
    path = Path(path)
    lines = _split_lines(text)
    title, title_line = _find_title(lines)
    names = _section_names(lines, title_line)
    head = _find_transcript_heading(lines)
    stop = head if head is not None else len(lines)
    warnings: list[str] = []
    page = Page(path=str(path), title=title, state=NOT_AN_EVENT, source=source)
    page.tags = _find_tags(lines)
    page.speakers = _find_speakers(title, lines, names, stop)

    reason = _not_an_event_reason(path, source, title, head is not None)
    if reason:
        page.warnings.append(reason)
        return page

    title_words = _words(title) | _words(" ".join(page.speakers))
    videos = _find_videos(lines, names, stop, title_words, warnings)
    blocks = _chapter_blocks(lines, 0, stop)
    sec = _classify_section(text, lines, head) if head is not None else None
    if sec is not None:
        blocks += _chapter_blocks(sec.rest, 0, len(sec.rest), in_transcript=True)
    if videos:
        _assign_blocks(videos, blocks, "chapters", warnings)
        if source is not None and not any(v.chapters for v in videos):
            video_labels = " ".join(v.label or "" for v in videos)
            label_words = _words(
                " ".join(
                    _clean(lines[i].text)
                    for i in range(stop)
                    if not lines[i].fenced and _VIDEO_LINE_RE.match(_clean(lines[i].text).strip())
                )
            )
            page_words = title_words | _words(path.stem) | _words(video_labels) | label_words
            _companion_chapters(source, root, videos, page_words, warnings)
    elif any(b.lines for b in blocks):
        warnings.append("chapters found but no video")

    if sec is not None:
        page.section = sec.kind
        page.draft = sec.draft
        if sec.kind == "edited":
            warnings.append("the draft was edited by a human since this tool wrote it; it is never replaced")
        if sec.kind in ("empty", "draft"):
            kept = [
                w
                for w, k in (
                    ("an agenda/chapter list", sec.kept_agenda),
                    ("hashtags", sec.kept_tags),
                    ("a placeholder", sec.kept_other),
                )
                if k
            ]
            if kept:
                warnings.append(f"Transcript section holds only {' and '.join(kept)}; kept below the transcript")
    page.videos = videos
    page.warnings = warnings
    page.state = _state(page)
    return page


def _state(page: Page) -> str:
    if page.section is None:
        return NO_TRANSCRIPT_SECTION
    if page.section in ("human", "edited"):
        return HAS_TRANSCRIPT
    if page.section == "draft":
        return HAS_DRAFT
    return NEEDS_TRANSCRIPT if page.videos else NO_VIDEO


def read_page(path: str | Path, *, root: str | Path | None = None) -> Page:
    path = Path(path)
    root_path = Path(root) if root is not None else None
    if root_path is not None:
        try:
            shown = path.relative_to(root_path).as_posix()
        except ValueError:
            shown = str(path)
    else:
        shown = str(path)
    text = _read_text(path, shown)
    page = parse_page(text, path=shown, source=path, root=root_path)
    page.root = root_path
    return page


def _walk(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(".md") and not f.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def scan(paths: Iterable[str | Path]) -> Iterator[Page | PageError]:
    results: list[Page | PageError] = []
    for given in paths:
        given = Path(given)
        if given.is_dir():
            for file in _walk(given):
                results.append(_read_or_error(file, root=given))
        elif given.exists():
            results.append(_read_or_error(given, root=None))
        else:
            results.append(PageError(given, "no such file or folder"))
    _drop_borrowed_embeds([r for r in results if isinstance(r, Page)])
    yield from results


def _read_or_error(path: Path, root: Path | None) -> Page | PageError:
    try:
        return read_page(path, root=root)
    except PageError as e:
        return e
    except Exception as e:  # a parser bug must cost one page, not the batch
        shown = path.relative_to(root).as_posix() if root is not None else str(path)
        return PageError(shown, f"could not be parsed ({type(e).__name__}: {e})")


def _drop_borrowed_embeds(pages: list[Page]) -> None:
    """An embed-only video that another page's Video link names is that event's, copied by mistake."""
    owners: dict[str, str] = {}
    for p in pages:
        if p.state != NOT_AN_EVENT:
            for v in p.videos:
                if v.source == "link" and v.id:
                    owners.setdefault(v.id, p.path)
    for p in pages:
        if p.state == NOT_AN_EVENT:
            continue
        keep: list[Video] = []
        for v in p.videos:
            owner = owners.get(v.id or "")
            if v.source == "embed" and owner and owner != p.path:
                p.warnings.append(f"embed {v.id} is the video of {owner}; ignored")
            else:
                keep.append(v)
        if len(keep) != len(p.videos):
            p.videos = keep
            p.state = _state(p)


# --------------------------------------------------------------------------- writing


def _section_parts(text: str, lines: list[_Line], head: int, sec: _Section) -> tuple[str, str]:
    """(kept, tail): the non-human lines to keep below the draft, verbatim, and the file's trailing whitespace."""
    after = lines[sec.draft_lines[1]].end if sec.draft_lines is not None else lines[head].end
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
    start = f"<!-- du-transcripts draft v1; model: {model}; date: {date}; sha256: {_body_hash(body)} -->"
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
    text = _read_text(path, path)
    lines = _split_lines(text)
    head = _find_transcript_heading(lines)
    if head is None:
        raise PageError(path, "no '## Transcript' heading; none is added")
    sec = _classify_section(text, lines, head)
    if sec.kind == "human":
        raise PageError(path, "the Transcript section holds human text; not overwritten")
    if sec.kind == "edited":
        raise PageError(path, "the draft was edited by a human; not overwritten")
    eol = _eol_of(text)
    kept, tail = _section_parts(text, lines, head, sec)
    heading_line = text[lines[head].start : lines[head].end]
    if not heading_line.endswith("\n"):
        heading_line += eol
    new_text = (
        text[: lines[head].start]
        + heading_line
        + _render_section(body, model=model, date=date, eol=eol, kept=kept, tail=tail)
    )
    if new_text == text:
        return WriteResult(path=str(path), changed=False)
    if sec.kind == "draft" and not replace_draft:
        raise PageError(path, "the Transcript section already holds a draft; replace it only on request")
    atomic_write_bytes(path, new_text.encode("utf-8"))
    return WriteResult(path=str(path), changed=True)


def read_transcript(path: str | Path) -> str | None:
    """The body between this tool's markers ("\\n" line endings, ending with a newline), or None."""
    path = Path(path)
    text = _read_text(path, path)
    lines = _split_lines(text)
    head = _find_transcript_heading(lines)
    if head is None:
        return None
    sec = _classify_section(text, lines, head)
    if sec.draft_lines is None:
        return None
    return _draft_body(text, lines, *sec.draft_lines)
