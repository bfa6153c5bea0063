"""Links: the id of a YouTube URL, URLs and local media files on Video lines, ids mentioned in text.

``youtube_id`` is the one implementation for the whole package (``download``
keys its cache by it too).
"""

from __future__ import annotations

import html
import re
import urllib.parse

_YT_ID = r"([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com"}
_YOUTUBE_PATH_PREFIXES = ("shorts", "embed", "live", "v", "e")
YT_IMG_RE = re.compile(r"/vi(?:_webp)?/" + r"([A-Za-z0-9_-]{11})/")
_URL_RE = re.compile(r"(?:https?://|(?<![\w/.])(?=(?:www\.)?youtu(?:\.be|be\.com)/))[^\s<>\"'\]\[()]+", re.IGNORECASE)
BARE_HREF_ID_RE = re.compile(r"youtube\.com/watch\?(?:[^\s\"'<>]*&)?([A-Za-z0-9_-]{11})$")
ANY_YT_ID_RE = re.compile(r"(?:youtu\.be/|[?&]v=|/vi/|/embed/|/shorts/|/live/)" + _YT_ID)


VIDEO_LINE_RE = re.compile(
    r"^(?:[-*+]\s*)?(?:\*\*)?\s*videos?\b(?P<label>[^:\n]*?)(?:\*\*)?\s*(?::\s*|\s+(?=https?://))(?P<value>.*)$",
    re.IGNORECASE,
)


def youtube_id(url: str) -> str | None:
    """The 11-character video id of a YouTube video URL (youtu.be, watch?v=, shorts, embed, live), else None.

    The host must be YouTube's and the id exactly 11 characters of ``[A-Za-z0-9_-]``
    (never a path such as ``../x``); a playlist or redirect URL names no video. The
    scheme may be missing (``youtu.be/ID``, ``//www.youtube.com/embed/ID``) and the
    query HTML-escaped (``&amp;v=``, as pages' embeds write it).
    """
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    elif "://" not in text:  # "youtu.be/ID" or "www.youtube.com/watch?v=ID" typed without a scheme
        text = "https://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 address
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be" and segments:
        candidate = segments[0]
    elif host in _YOUTUBE_HOSTS and segments == ["watch"]:
        query_ids = urllib.parse.parse_qs(html.unescape(parts.query)).get("v")
        candidate = query_ids[0] if query_ids else None
    elif host in _YOUTUBE_HOSTS and len(segments) >= 2 and segments[0] in _YOUTUBE_PATH_PREFIXES:
        candidate = segments[1]
    if candidate and _YOUTUBE_ID.fullmatch(candidate):
        return candidate
    return None


# A local media file named on a Key Links Video line (relative to the page, or
# absolute): how the bundled example and offline recordings link their audio.
_LOCAL_MEDIA_RE = re.compile(
    r"^(?:file://)?(?P<path>(?:\.{0,2}/)?[\w./-]+\.(?:mp3|m4a|aac|ogg|opus|oga|flac|wav|webm|mp4|mkv|mov))$",
    re.IGNORECASE,
)


def local_media(value: str) -> str | None:
    m = _LOCAL_MEDIA_RE.match(value.strip())
    return m.group(0) if m else None


def first_url(value: str) -> str | None:
    m = _URL_RE.search(value)
    if not m:
        return None
    url = m.group(0).rstrip(".,;:!?*_")
    if not url.lower().startswith("http"):
        url = "https://" + url
    return url
