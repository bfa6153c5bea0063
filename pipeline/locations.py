"""Where a video's media is: its cache key, whether it is a local file (and that file, kept
inside the folder the run was given), and the site a download counts against.

Pure functions over the text a page gives: nothing is opened or fetched here.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

from .download_errors import ABSOLUTE_LOCAL, DownloadError
from .pages import youtube_id  # one implementation: the cache key and the page parser agree on ids

# -- keys --------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def media_key(url: str) -> str:
    """The cache key of a URL or local file: ``yt-<id>``, ``file-<hash>`` or ``url-<hash>``.

    Only ``[A-Za-z0-9_-]`` ever appears in a key, so it is safe as a file name.
    A local file's key changes when the file does (its size and mtime are hashed in).
    """
    local = local_path(url)
    if local is not None and path_exists(local) and local.is_file():
        stat = local.stat()
        return "file-" + _digest(f"{local.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}")
    video_id = youtube_id(url)
    if video_id is not None:
        return f"yt-{video_id}"
    return "url-" + _digest(url.strip())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for anything yt-dlp should fetch."""
    text = url.strip()
    if text.lower().startswith("file://"):
        try:
            return Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
        except ValueError:
            return Path(urllib.request.url2pathname(text[len("file://") :]))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return None
    try:
        path = Path(os.path.expanduser(text))  # "~user" with no such user stays as it is
    except ValueError:  # a NUL byte: no such file, and nothing yt-dlp could fetch either
        return Path(text)
    if path_exists(path) or text.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return path
    # "youtu.be/ID", "example.com/talk.mp3": a URL typed without its scheme.
    if re.match(r"^[^\s/]+\.[^\s/]+/", text):
        return None
    return path


def path_exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def is_local(url: str) -> bool:
    """True when ``url`` names a local file (a path or a ``file://`` URL), not something to fetch."""
    return local_path(url) is not None


def site_of(url: str) -> str | None:
    """The site a URL's downloads count against when it rate-limits (youtu.be and youtube.com
    are one site); None for a local file, which no site limits."""
    if is_local(url):
        return None
    host = (urllib.parse.urlsplit(url).hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if host == "youtu.be" or host == "youtube.com" or host.endswith(".youtube.com") or youtube_id(url):
        return "youtube.com"
    return host


def local_media_path(value: str, page_source: Path, root: Path) -> Path:
    """The local media file a page names, resolved, provided it lies inside ``root``.

    ``value`` is relative to the page's folder. An absolute path (``/...``, ``~``, an absolute
    ``file://`` URL) is refused, and so is anything that resolves outside ``root`` (``../``
    or a symlink, followed to its target): a pull request must not make the tool read, and
    then publish, a file of the maintainer's machine. Nothing is opened here.
    """
    path = local_path(value)
    if path is None:
        raise DownloadError(value, "not a local file")
    if path.is_absolute() or value.strip().startswith("~"):
        raise DownloadError(value, ABSOLUTE_LOCAL)
    tree = Path(root).resolve()
    target = (Path(page_source).parent / path).resolve()
    if not target.is_relative_to(tree):
        raise DownloadError(value, f"resolves to {target}, outside {tree}, the folder given to run: refused")
    return target
