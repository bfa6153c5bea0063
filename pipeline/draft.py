"""The draft format: how a draft's body is written and how it is read back, in one place.

A body (what ``pages.write_transcript`` wraps in the draft markers) is blocks separated
by blank lines:

- the note: ``*Machine-generated draft (faster-whisper, model M, DATE) for human cleanup: ...*``;
- a part line before each video of a page with several: ``**Part 2 of 3: Label** (URL)``;
- headings: ``### Title (12:34)``, ``####`` for a sub-chapter, the time maybe linked
  (``### Title [(12:34)](https://youtu.be/ID?t=754)``); a note ``*(No speech in this part.)*``;
- paragraphs: one line of words, a turn's first starting ``**Label:** ``; a passage to
  check ends in a flag mark `` [?]<!-- check 12:34: reason -->`` (``[?](link)`` on YouTube);
  a paragraph that would start a Markdown list, quote or heading is escaped (``4\\. To``).

``render`` writes with the functions of the first half, ``review`` and the evaluation kit
read with :func:`parse_draft`; :func:`block_markdown` writes a parsed block again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .utils import format_timestamp

# --------------------------------------------------------------------------- writing


def one_line(text: str) -> str:
    """Page titles and model text are data: a newline in them must not start a new Markdown line."""
    return " ".join(str(text).split())


def note(
    model: str, date: str, flag_counts: Sequence[tuple[str, int]], *, speakers: bool, proposed: bool = False
) -> str:
    """The draft's first line: what made it, and what the reviewer should check (the [?] per chapter;
    the speaker labels; the headings, when this tool proposed them)."""
    text = f"*Machine-generated draft (faster-whisper, model {one_line(model)}, {date}) for human cleanup: "
    if flag_counts:
        total = sum(n for _, n in flag_counts)
        where = ", ".join(f"{name} {n}" for name, n in flag_counts)
        text += f"check names, punctuation and the {total} passage{'s' * (total != 1)} marked [?] ({where}).*"
    else:
        text += "check names and punctuation.*"
    if speakers:
        text = text[:-1] + " Speaker labels are machine guesses: check who says what.*"
    if proposed:
        text = text[:-1] + " The headings are proposed by this tool from the talk: check their times and titles.*"
    return text


def part_line(index: int, count: int, label: str | None, url: str) -> str:
    """``**Part 2 of 3: Label** (URL)``: the line before each video of a page with several."""
    name = f"Part {index} of {count}"
    if label and one_line(label).lower() != f"part {index}":
        name += f": {one_line(label)}"
    return f"**{name}** ({url})"


def heading(level: int, title: str, seconds: float, link: str | None = None) -> str:
    """``### Title (12:34)`` (``level`` 3 or 4); the time links to ``link`` when given; no title: the time alone."""
    title = one_line(title)
    stamp = format_timestamp(seconds)
    if link is not None:
        stamp = f"[({stamp})]({link})" if title else f"[{stamp}]({link})"
    elif title:
        stamp = f"({stamp})"
    marks = "#" * level
    return f"{marks} {title} {stamp}" if title else f"{marks} {stamp}"


def aside(text: str) -> str:
    """``*(No speech in this part.)*``: a chapter's note in place of its paragraphs."""
    return f"*({text})*"


def video_link(video_id: str, seconds: float) -> str:
    """The YouTube link that plays ``video_id`` from that second (rounded down: from just before it)."""
    return f"https://youtu.be/{video_id}?t={max(0, int(seconds))}"


def flag_mark(start: float, reason: str, link: str | None = None) -> str:
    """`` [?]<!-- check 12:34: reason -->``, after the flagged passage's last word; ``[?](link)`` given a link."""
    reason = one_line(reason).replace("--", "-").replace(">", ")")  # must not end the comment
    mark = f"[?]({link})" if link is not None else "[?]"
    return f" {mark}<!-- check {format_timestamp(start)}: {reason} -->"


def paragraph(text: str, label: str | None = None) -> str:
    """A paragraph's line: ``**Label:** `` where a turn starts, then its text, escaped at the start."""
    text = escape_line_start(one_line(text))
    return f"**{one_line(label)}:** {text}" if label else text


_BLOCK_START = re.compile(r"^(?:[#>*+=|-]|\d+[.)](?:\s|$)|```|~~~)")


def escape_line_start(text: str) -> str:
    """A paragraph that begins like a heading, list or quote ("4. To eject ...") stays a paragraph."""
    match = _BLOCK_START.match(text)
    if not match:
        return text
    digits = re.match(r"\d+", text)
    if digits:
        return digits.group(0) + "\\" + text[len(digits.group(0)) :]
    return "\\" + text


# --------------------------------------------------------------------------- reading

_FLAG_RE = re.compile(r"\s*\[\?\](?:\((?P<url>[^)\s]*)\))?(?:<!--(?P<note>.*?)-->)?")
_CHECK_RE = re.compile(r"^\s*check\s+(?P<time>\d{1,2}(?::\d{2}){1,2})\s*:?\s*(?P<reason>.*?)\s*$")
_URL_TIME_RE = re.compile(r"[?&]t=(\d+)")
_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*$")
_HEADING_TIME_RE = re.compile(r"\((?P<time>\d{1,2}(?::\d{2}){1,2})\)\s*$|^(?P<bare>\d{1,2}(?::\d{2}){1,2})$")
_PART_RE = re.compile(r"^\*\*Part \d+ of \d+\b.*\*\*")
_NOTE_RE = re.compile(r"^\*[^*].*\*$|^\*\(.*\)\*$")
_SPEAKER_RE = re.compile(r"^\*\*(?P<name>[^*\n]{1,60}?):\*\*\s*")
_ESCAPED_START_RE = re.compile(r"^(\d+)\\([.)])|^\\([#>*+=|-])")


@dataclass
class Word:
    text: str
    start: float = 0.0
    end: float = 0.0
    flag: str | None = None  # the reason, when this word is inside a passage marked [?]


@dataclass
class FlagMark:
    markdown: str  # exactly as in the draft, leading space included: kept unless the reviewer deletes it
    reason: str
    time: float | None  # where the passage starts, when the mark says


@dataclass
class Block:
    kind: str  # "heading" | "note" | "part" | "paragraph"
    raw: str  # the block's lines as in the draft: what is written back when it is unchanged
    level: int = 0  # heading level
    text: str = ""  # heading/note/part text
    start: float | None = None  # a heading's time
    speaker: str | None = None  # a paragraph's **Label:**
    items: list[Word | FlagMark] = field(default_factory=list)  # a paragraph's words and flag marks
    part: int = 0  # which video (0-based) the block belongs to
    markup: str = ""  # a part line's text with its bold marks: what block_markdown writes again

    @property
    def words(self) -> list[Word]:
        return [item for item in self.items if isinstance(item, Word)]


def seconds_of(stamp: str) -> float:
    """``12:34`` or ``1:02:03`` in seconds."""
    total = 0.0
    for part in stamp.split(":"):
        total = total * 60 + int(part)
    return total


def _flag_mark(match: re.Match) -> FlagMark:
    note_text = match.group("note") or ""
    check = _CHECK_RE.match(note_text)
    reason = (check.group("reason") if check else note_text.strip()) or "check this passage"
    time = seconds_of(check.group("time")) if check else None
    url_time = _URL_TIME_RE.search(match.group("url") or "")
    if url_time:
        time = float(url_time.group(1))
    return FlagMark(markdown=match.group(0), reason=reason, time=time)


def parse_paragraph(markdown: str) -> tuple[str | None, list[Word | FlagMark]]:
    """A paragraph's speaker label and its words and flag marks, in order."""
    text = " ".join(markdown.split())
    speaker = None
    label = _SPEAKER_RE.match(text)
    if label:
        speaker, text = label.group("name").strip(), text[label.end() :]
    text = _ESCAPED_START_RE.sub(lambda m: (m.group(1) + m.group(2)) if m.group(1) else m.group(3), text)
    items: list[Word | FlagMark] = []
    pos = 0
    for match in _FLAG_RE.finditer(text):
        items.extend(Word(token) for token in text[pos : match.start()].split())
        items.append(_flag_mark(match))
        pos = match.end()
    items.extend(Word(token) for token in text[pos:].split())
    return speaker, items


def _classify_block(lines: list[str], part: int) -> Block:
    raw = "\n".join(lines)
    first = lines[0].strip()
    heading_match = _HEADING_RE.match(first) if len(lines) == 1 else None
    if heading_match:
        text = heading_match.group("text")
        stamp = _HEADING_TIME_RE.search(text)
        start = seconds_of(stamp.group("time") or stamp.group("bare")) if stamp else None
        return Block("heading", raw, level=len(heading_match.group("hashes")), text=text, start=start, part=part)
    joined = " ".join(line.strip() for line in lines)
    if _PART_RE.match(joined):
        return Block("part", raw, text=joined.replace("**", ""), part=part, markup=joined)
    if _NOTE_RE.match(joined):
        return Block("note", raw, text=joined.strip("*"), part=part)
    speaker, items = parse_paragraph(joined)
    return Block("paragraph", raw, speaker=speaker, items=items, part=part)


def parse_draft(body: str) -> list[Block]:
    """The body's blank-line separated blocks; part lines (``**Part 2 of 3**``) start a new video."""
    blocks: list[Block] = []
    part = -1
    for chunk in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n").strip("\n")):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        block = _classify_block(lines, max(part, 0))
        if block.kind == "part":
            part += 1
            block.part = part
        blocks.append(block)
    return blocks


def paragraph_markdown(block: Block) -> str:
    """A paragraph as one Markdown line in the house style (the form the browser sends back)."""
    text = ""
    for item in block.items:
        if isinstance(item, FlagMark):
            text += item.markdown
        else:
            text += (" " if text else "") + item.text
    return paragraph(text, block.speaker)


def block_markdown(block: Block) -> str:
    """A parsed block written again from what was read of it (not from ``raw``)."""
    if block.kind == "heading":
        return f"{'#' * block.level} {block.text}"
    if block.kind == "note":
        return f"*{block.text}*"
    if block.kind == "part":
        return block.markup
    return paragraph_markdown(block)


def body_markdown(blocks: Sequence[Block]) -> str:
    """Blocks as a body, as the renderer joins them."""
    return "\n\n".join(block_markdown(b) for b in blocks) + "\n"
