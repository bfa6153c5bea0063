"""Companion drafts: chapters for a page that has none, from a ``misc/NN_*.md`` file of the same event.

A page with videos and no chapters of its own takes them from ``misc/NN_*.md``
(the nearest ``misc/`` folder up the tree, same number) only when that file
names one of the page's video ids or shares a distinctive name/title word with
the page (so ``misc/05_andy_sprint.md`` serves 2020/05, never 2022/05's Discord
talk), with the warning ``chapters taken from misc/...``.

The parser gets the candidates as ``Companion`` values (``companion_chapters``
is pure); only ``CompanionIndex`` reads files: one index per scan, which reads
each misc folder's listing once and each companion file at most once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..schema import Chapter, Video
from .chapters import Block, assign_blocks, chapter_blocks
from .lines import PageError, clean, keywords, read_text, split_lines, strip_links
from .links import ANY_YT_ID_RE, VIDEO_LINE_RE
from .metadata import NAME_RE


@dataclass
class Companion:
    """A misc/ companion draft, parsed: its chapter lists and what tells which event it describes."""

    name: str  # the file's name, e.g. "05_andy_sprint.md"
    blocks: list[Block]
    ids: set[str]  # every YouTube id the file mentions
    lead_ids: set[str]  # ids of Video lines above its first chapter list: the event it describes
    words: set[str]  # name and title words


def _number(name: str) -> int | None:
    m = re.match(r"^(\d+)[-_ ]", name)
    return int(m.group(1)) if m else None


def parse_companion(name: str, text: str) -> Companion:
    """A companion file's text as a ``Companion``; ``name`` is its file name (its words count as title words)."""
    lines = split_lines(text)
    blocks = chapter_blocks(lines, 0, len(lines))
    first_block = blocks[0].first_line if blocks else len(lines)
    lead_ids: set[str] = set()
    words = keywords(re.sub(r"^\d+[-_]", "", Path(name).stem).replace("_", " ").replace("-", " "))
    for ln in lines[:first_block]:
        s = clean(ln.text).strip()
        m = VIDEO_LINE_RE.match(s)
        if m:
            lead_ids |= {mm.group(1) for mm in ANY_YT_ID_RE.finditer(m.group("value"))}
        if re.match(r"^(?:[-*]\s*)?(?:event|speaker|title)\s*:", s, re.IGNORECASE) or (
            ":" in s and NAME_RE.match(s.split(":", 1)[0].strip().lstrip("# "))
        ):
            words |= keywords(strip_links(s))
    return Companion(name, blocks, {m.group(1) for m in ANY_YT_ID_RE.finditer(text)}, lead_ids, words)


def _companion_matches(comp: Companion, page_ids: set[str], page_words: set[str]) -> bool:
    """Same number is not enough: the file must name one of the page's videos, or share a name word."""
    if comp.ids & page_ids:
        return True
    if comp.lead_ids:
        return False  # it describes another video
    return bool(comp.words & page_words)


def companion_chapters(
    companions: Sequence[Companion], videos: list[Video], page_words: set[str], warnings: list[str]
) -> None:
    """Give ``videos`` the chapters of the matching companion with the most of them (``companions``: the
    same-numbered files of the page's misc/ folder, in name order)."""
    page_ids = {v.id for v in videos if v.id}
    best: tuple[int, Companion, list[list[Chapter]], list[str]] | None = None
    rejected: list[str] = []
    for comp in companions:
        if not _companion_matches(comp, page_ids, page_words):
            rejected.append(comp.name)
            continue
        trial = [Video(url=v.url, id=v.id, label=v.label, source=v.source) for v in videos]
        notes: list[str] = []
        assign_blocks(trial, comp.blocks, f"misc/{comp.name}", notes)
        total = sum(len(v.chapters) for v in trial)
        if total and (best is None or total > best[0]):
            best = (total, comp, [v.chapters for v in trial], notes)
    if best is None:
        if rejected:
            warnings.append(f"misc/{', misc/'.join(rejected)} has this number but names another event; not used")
        return
    _, chosen, chapter_lists, notes = best
    for v, chapters in zip(videos, chapter_lists, strict=True):
        v.chapters = chapters
    warnings.append(f"chapters taken from misc/{chosen.name}")
    others = [c.name for c in companions if c is not chosen and c.name not in rejected]
    if others:
        warnings.append(f"misc/{', misc/'.join(others)} also match; misc/{chosen.name} has the most chapters")
    warnings.extend(notes)


def _misc_folder(page: Path, root: Path | None) -> Path | None:
    """The nearest misc/ folder up the tree from the page (at most 4 levels, not above ``root``)."""
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


@dataclass
class CompanionIndex:
    """The companion drafts of the misc/ folders a scan meets: each folder listed once, each file read once."""

    _listings: dict[Path, dict[int, list[Path]]] = field(default_factory=dict)
    _parsed: dict[Path, Companion | None] = field(default_factory=dict)

    def for_page(self, page: Path, root: Path | None = None) -> list[Companion]:
        """The companions that may serve the page at ``page``: same number, nearest misc/ folder, name order."""
        number = _number(page.name)
        folder = _misc_folder(page, root) if number is not None else None
        if number is None or folder is None:
            return []
        if folder not in self._listings:
            self._listings[folder] = _list_folder(folder)
        found = [self._read(p) for p in self._listings[folder].get(number, [])]
        return [c for c in found if c is not None]

    def _read(self, path: Path) -> Companion | None:
        if path not in self._parsed:
            try:
                self._parsed[path] = parse_companion(path.name, read_text(path, path))
            except PageError:
                self._parsed[path] = None  # unreadable: no companion
        return self._parsed[path]


def _list_folder(folder: Path) -> dict[int, list[Path]]:
    """The folder's numbered ``*.md`` files by number, in name order (an unreadable folder: none)."""
    by_number: dict[int, list[Path]] = {}
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix == ".md" and p.is_file())
    except OSError:
        return by_number
    for p in files:
        number = _number(p.name)
        if number is not None:
            by_number.setdefault(number, []).append(p)
    return by_number
