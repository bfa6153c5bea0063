"""Event pages: parse a Data Umbrella page into plain data, and write its Transcript section.

CONTRACT (other modules rely on these names; keep them):

- ``read_page(path, *, root=None, companions=None) -> Page``: parse one file. Never raises for bad
  content; an unreadable/binary/huge file raises ``PageError`` with a one-line message.
- ``scan(paths) -> Iterator[Page | PageError]``: files or folders (recursive ``*.md``),
  sorted, one result per file; ``Page.path`` is relative to the folder given.
- ``write_transcript(path, body, *, model, date, replace_draft=False) -> WriteResult``:
  put ``body`` (Markdown, "\n" line endings) into the Transcript section between
  the draft markers below, in the file's own line endings, atomically.
  Raises ``PageError`` if the section holds human text, or holds a draft and
  ``replace_draft`` is False, or the page has no Transcript heading, or the file
  is read-only or cannot be written. A symlinked page is written through to its
  target; the page ends with a newline exactly when it did before.
- ``fill_timestamps(path, chapters) -> WriteResult``: proposed chapters over the placeholder
  lines of the page's Timestamps block (``timestamps``), never over a human's list;
  ``timestamp_lines(chapters)``: ``mm:ss Title`` lines.
- ``read_transcript(path) -> str | None``: the draft body that write_transcript wrote
  (between the markers, "\n" line endings), or None.
- ``replace_draft_body(path, body, *, expected_sha256=None) -> WriteResult``: a
  reviewer's edit: ``body`` between the draft's markers, both kept verbatim (so the page
  then reads as edited by a human), every other byte, the line endings and the final
  newline as they were, atomically. Raises ``PageError`` when there is no draft, and
  ``PageChangedError`` when ``expected_sha256`` is not the hash of the page's bytes.

Also public: ``parse_page(text, *, path=..., source=None, companions=()) -> Page``
(the parser without the file system: the caller passes the candidate companion
drafts, ``CompanionIndex().for_page(path)``), ``parse_companion(name, text) ->
Companion`` and ``youtube_id(url) -> str | None`` (the one implementation;
``download`` uses it too). The types (``Page``, ``Video``, ``Chapter``,
``DraftInfo``, ``WriteResult``) and the states live in ``pipeline.schema`` and
are importable from here. A body is stored with a final newline, so
``read_transcript`` returns ``body`` when it ends with "\n" (or is empty), else
``body + "\n"``. Files over ``MAX_PAGE_BYTES`` (5 MB), with a NUL byte (binary) or
not valid UTF-8 are refused with a ``PageError``; there is no lossy fallback.

The draft markers and their hash are described in ``section``: a draft whose
text no longer matches its marker's hash was edited by a human, and the page
then counts as ``has-transcript`` (human text, never overwritten).

Modules, by concern (lowest first): ``lines`` (file to text, lines, fences,
headings), ``links`` (URLs, YouTube ids), ``chapters`` (the chapter grammar and
chapter lists), ``videos`` (Video lines and embeds), ``metadata`` (title,
speakers, tags), ``section`` (the Transcript section and its draft marker),
``companions`` (misc/ companion drafts), ``parse`` (the pure parser), ``scan``
(reading files and folders), ``write`` (writing the section back).

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

from ..schema import (
    HAS_DRAFT,
    HAS_TRANSCRIPT,
    NEEDS_TRANSCRIPT,
    NO_TRANSCRIPT_SECTION,
    NO_VIDEO,
    NOT_AN_EVENT,
    Chapter,
    DraftInfo,
    Page,
    Video,
    WriteResult,
)
from .companions import Companion, CompanionIndex, parse_companion
from .lines import MAX_PAGE_BYTES, PageError
from .links import youtube_id
from .parse import parse_page
from .scan import read_page, scan
from .section import DRAFT_END, DRAFT_START
from .timestamps import fill_timestamps, timestamp_lines
from .write import PageChangedError, read_transcript, replace_draft_body, write_transcript

__all__ = [
    "fill_timestamps",
    "timestamp_lines",
    "DRAFT_END",
    "DRAFT_START",
    "HAS_DRAFT",
    "HAS_TRANSCRIPT",
    "MAX_PAGE_BYTES",
    "NEEDS_TRANSCRIPT",
    "NOT_AN_EVENT",
    "NO_TRANSCRIPT_SECTION",
    "NO_VIDEO",
    "Chapter",
    "Companion",
    "CompanionIndex",
    "DraftInfo",
    "Page",
    "PageChangedError",
    "PageError",
    "Video",
    "WriteResult",
    "parse_companion",
    "parse_page",
    "read_page",
    "read_transcript",
    "replace_draft_body",
    "scan",
    "write_transcript",
    "youtube_id",
]
