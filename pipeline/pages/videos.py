"""Videos and embeds: which video(s) a page is about.

The ``Video`` label lines of Key Links, of the lines under the title and of a
``## Video Transcript`` block come first; numbered ``Video N`` lines elsewhere
are further parts when Key Links numbers its videos; the ``<a href><img>``
embeds of the Video sections are used when no Video line names a video, and as
further parts only when the page embeds several videos that its title names.
"""

from __future__ import annotations

import re

from ..schema import Video
from .chapters import PART_NUM_RE, part_index
from .lines import Line, clean, keywords, parse_heading
from .links import BARE_HREF_ID_RE, VIDEO_LINE_RE, YT_IMG_RE, first_url, local_media, youtube_id

_KEYLINKS_HEADINGS = re.compile(
    r"^(?:(?:key|event|important)\s+links|links|video\s+transcript|videos?\b.*)$", re.IGNORECASE
)
_RESOURCE_HEADINGS = re.compile(r"resources|reference|related|further|other|chat|transcript", re.IGNORECASE)


_EMBED_RE = re.compile(
    r"<a\b[^>]*?\bhref\s*=\s*[\"'](?P<href>[^\"']*)[\"'][^>]*>(?P<inner>(?:(?!</a>).){0,2000}?)</a>",
    re.IGNORECASE | re.DOTALL,
)
_IMG_RE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"'](?P<src>[^\"']*)[\"']", re.IGNORECASE)


def section_names(lines: list[Line], title_line: int | None) -> list[str]:
    """For each line, the lower-cased name of the section it sits in ("" before any heading,
    "#title" under the title)."""
    names: list[str] = []
    current = ""
    for i, ln in enumerate(lines):
        if not ln.fenced:
            h = parse_heading(ln.text)
            if h and h[0] <= 2:
                current = "#title" if i == title_line else re.sub(r"[*:]+", " ", h[1]).strip().lower()
        names.append(current)
    return names


def _is_primary_section(name: str) -> bool:
    return name in ("", "#title") or bool(_KEYLINKS_HEADINGS.match(name))


def find_videos(
    lines: list[Line], names: list[str], stop: int, title_words: set[str], warnings: list[str]
) -> list[Video]:
    primary, numbered_elsewhere, elsewhere = _video_lines(lines, names, stop)
    numbered = any(v.label and part_index(v.label) for v in primary)
    videos = _dedupe(primary + (numbered_elsewhere if numbered else []))

    embeds = _find_embeds(lines, names, stop, warnings)
    if not videos and not embeds:
        # last resort: a Video line in a section that is not about other material
        videos = _dedupe([v for v, i in elsewhere if not _RESOURCE_HEADINGS.search(names[i])])
        if videos:
            warnings.append("video taken from a Video line outside Key Links")
        return videos
    if not videos:
        warnings.append("video taken from the embed (no Video link)")
        return _dedupe([_embed_video(vid) for vid, _, _ in embeds])
    _add_embedded_parts(videos, embeds, title_words, warnings)
    return _dedupe(videos)


def _video_lines(
    lines: list[Line], names: list[str], stop: int
) -> tuple[list[Video], list[Video], list[tuple[Video, int]]]:
    """The videos of Video lines above ``stop``: (in the primary sections, numbered ones elsewhere,
    all the others with their line index)."""
    primary: list[Video] = []
    numbered: list[Video] = []  # numbered "Video 2" lines elsewhere: parts when Key Links numbers its videos
    elsewhere: list[tuple[Video, int]] = []
    for i in range(stop):
        ln = lines[i]
        if ln.fenced:
            continue
        m = VIDEO_LINE_RE.match(clean(ln.text).strip())
        if not m:
            continue
        url = first_url(m.group("value"))
        if not url and _is_primary_section(names[i]):
            url = local_media(m.group("value"))
        if not url:
            continue
        label_text = re.sub(r"\s+", " ", m.group("label")).strip()
        label = f"Video {label_text}" if label_text else None
        video = Video(url=url, id=youtube_id(url), label=label)
        if _is_primary_section(names[i]):
            primary.append(video)
            continue
        elsewhere.append((video, i))
        if label and PART_NUM_RE.search(label):
            numbered.append(video)
    return primary, numbered, elsewhere


def _embed_video(vid: str) -> Video:
    return Video(url=f"https://www.youtube.com/watch?v={vid}", id=vid, source="embed")


def _add_embedded_parts(
    videos: list[Video], embeds: list[tuple[str, str | None, str]], title_words: set[str], warnings: list[str]
) -> None:
    """Embeds of other videos than the Video lines': further parts when the page embeds several videos
    whose alt texts share the title's words, else a wrong embed (ignored, with a warning)."""
    known = {v.id for v in videos if v.id}
    extra: list[tuple[str, str]] = []
    for vid, other, alt in embeds:
        if vid in known or (other and other in known):
            if other and other != vid:
                warnings.append(f"embed link {vid} and its image {other} disagree; the Video link decides")
            continue
        extra.append((vid, alt))
    if not extra:
        return
    alt_words = [keywords(alt) & title_words for _, alt in extra]
    if len(embeds) >= 2 and all(alt_words):
        videos.extend(_embed_video(vid) for vid, _ in extra)
        warnings.append(f"{len(extra)} further video(s) taken from the embeds")
    else:
        warnings.append(
            f"embed of another video ({', '.join(v for v, _ in extra)}) ignored: the Video link names this event's"
        )


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
    lines: list[Line], names: list[str], stop: int, warnings: list[str]
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
            img_m = YT_IMG_RE.search(src)
            img_id = img_m.group(1) if img_m else None
            if "/vi/" in src and not img_id:
                warnings.append("embed image does not hold an 11-character video id")
            if "youtube.com/watch" in href and not href_id:
                warnings.append("embed link has no v= video id")
                # "watch?feature=player_embedded&Tm5Vr8Ye2Hu": the id without its "v=".
                bare = BARE_HREF_ID_RE.search(href)
                if bare and not img_id:
                    href_id = bare.group(1)
                    warnings.append(f"embed video id {href_id} read from a link without v=")
            vid = href_id or img_id
            if not vid:
                continue
            other = img_id if href_id and img_id and img_id != href_id else None
            found.append((vid, other, alt))
    return found
