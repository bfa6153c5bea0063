"""Page metadata: the title, the speakers' names (for the model's context) and the hashtags."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .lines import HASHTAG_LINE_RE, Line, clean, parse_heading, strip_links


def find_title(lines: list[Line]) -> tuple[str, int | None]:
    for i, ln in enumerate(lines[:40]):
        if ln.fenced:
            continue
        h = parse_heading(ln.text)
        if h and h[0] == 1:
            return _tidy_title(h[1]), i
    for i, ln in enumerate(lines):
        if ln.fenced or not ln.text.strip():
            continue
        h = parse_heading(ln.text)
        text = h[1] if h else clean(ln.text).strip()
        if h and re.match(r"(upcoming events|key links|meetup|video|resources)\b", text, re.IGNORECASE):
            break
        return _tidy_title(text), i
    return "", None


def _tidy_title(s: str) -> str:
    s = clean(s).strip()
    while s.startswith("#"):
        s = s.lstrip("#").strip()
    return re.sub(r"\s+", " ", strip_links(s)).strip()


_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:de|da|van|von|del|la)?\s*[A-Z][\w'’.-]*){1,3}"
NAME_RE = re.compile(rf"^{_NAME}$")


_NAME_SEPARATORS = re.compile(r"\s+(?:and|&)\s+|,\s*")


def find_speakers(title: str, lines: list[Line], names: list[str], stop: int) -> list[str]:
    """Names from the title ("Ada Lovelace and Alan Turing: ...", "... (Ada Lovelace)") and the
    speaker lines, in page order."""
    found: list[str] = []
    for candidate in _speaker_candidates(title, lines, names, stop):
        name = re.sub(r"\s+", " ", candidate).strip(" .,;:")
        if NAME_RE.match(name) and name not in found and name.lower() not in ("data umbrella", "first last"):
            found.append(name)
    return found


def _speaker_candidates(title: str, lines: list[Line], names: list[str], stop: int) -> Iterator[str]:
    if ":" in title:
        yield from _NAME_SEPARATORS.split(title.split(":", 1)[0])
    m = re.search(r"\(([^()]+)\)\s*$", title)
    if m:
        yield from _NAME_SEPARATORS.split(m.group(1))
    for i in range(stop):
        if lines[i].fenced:
            continue
        s = strip_links(clean(lines[i].text)).strip()
        m = re.match(r"^[-*]?\s*speakers?\s*:\s*(.+)$", s, re.IGNORECASE)
        if m:
            yield from _NAME_SEPARATORS.split(m.group(1))
        elif "speaker" in names[i] and not s.startswith(("#", "-")):
            m = re.match(rf"^(?:Dr\.\s+)?({_NAME})\s+(?:is|was|has|works|holds)\b", s)
            if m:
                yield m.group(1)


def find_tags(lines: list[Line]) -> list[str]:
    tags: list[str] = []
    for ln in lines:
        s = clean(ln.text).strip()
        if s.startswith("#") and HASHTAG_LINE_RE.match(s):
            for t in s.split():
                t = t.lstrip("#")
                if t and t not in tags:
                    tags.append(t)
    return tags
