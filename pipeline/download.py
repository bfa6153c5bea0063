"""Download a video's audio with yt-dlp (its Python API), into the cache.

CONTRACT (other modules rely on these names; keep them):

- ``media_key(url) -> str``: a file-name-safe cache key for a URL or local path
  ("yt-<id>" for YouTube, else a short hash), never able to escape a folder.
- ``download(url, cache_dir: Path, options: DownloadOptions, *, progress=None) -> Media``
  best audio only; local paths (and file:// URLs) are used in place, not copied.
  A finished download is reused; a partial one is resumed or redone, never used.
  Failures raise ``DownloadError`` with a one-line message (404, private/removed
  video, not media, rate limited -> ``RateLimitedError``, a subclass).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class DownloadError(Exception):
    """A video that could not be fetched; str(e) is one line for the user."""

    def __init__(self, url: str, message: str):
        super().__init__(f"{message} ({url})")
        self.url = url
        self.reason = message


class RateLimitedError(DownloadError):
    """The site refused because of request volume (HTTP 429, YouTube's bot check)."""


@dataclass
class Media:
    url: str
    key: str
    path: Path  # the downloaded (or local) media file
    title: str | None = None
    duration: float | None = None
    from_cache: bool = False
