"""Where every stage keeps its results, so that no finished work is ever redone.

One :class:`Cache` object owns the whole layout; stages are handed the object,
never its root. Layout under the cache root (one entry per video key, see
``locations.media_key``)::

    media/<key>/...                    downloaded media and its record (download stage)
    audio/<key>.wav                    16 kHz mono audio (prepare stage)
    transcripts/<key>/<fp>.json        a transcription, per model, options and page context
    speakers/<key>/<fp>.json           who speaks when (speaker turns), per speaker options
    exports/<key>/<stem>.srt|vtt|json  subtitles and word-level JSON (--export)
    review/<key>.webm                  media a browser cannot play, as Opus for the review page
    locks/<name>.lock                  file locks shared by concurrent runs

A new stage with a cached result per video and options adds its folder to
``KEYED_ENTRIES`` and an entry class to ``job`` that calls :meth:`Cache.entry`, as
``job.TurnsEntry`` does.

Every file is written atomically (temp file and rename), so a run killed at any
moment leaves either the finished entry or nothing usable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from filelock import FileLock

from .config import TranscribeOptions
from .utils import writable_folder

APP_NAME = "du-transcripts"

# Bump when the cached transcription JSON or the transcription logic changes meaning:
# every cached transcription then counts as missing.
TRANSCRIPT_FORMAT = 1

# Folders holding one result per (video key, fingerprint): <folder>/<key>/<fingerprint>.json
KEYED_ENTRIES = ("transcripts", "speakers")

MEDIA_RECORD_NAME = "download.json"

_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9_-]")


def default_cache_dir() -> Path:
    """The user's cache folder for this tool (``$XDG_CACHE_HOME/du-transcripts`` on Linux)."""
    return platformdirs.user_cache_path(APP_NAME)


def transcription_fingerprint(
    model_name: str,
    options: TranscribeOptions,
    *,
    initial_prompt: str | None = None,
    hotwords: str | None = None,
) -> str:
    """A short key for everything that changes the text: model, options, page context."""
    key = {
        "format": TRANSCRIPT_FORMAT,
        "model": model_name,
        "options": dataclasses.asdict(options),
        "initial_prompt": initial_prompt or "",
        "hotwords": hotwords or "",
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _safe(key: str) -> str:
    """A video key, refused when it could name another folder (``..``, a slash)."""
    if _UNSAFE_KEY.search(key) or not key:
        raise ValueError(f"unsafe cache key {key!r}")
    return key


@dataclass(frozen=True)
class Cache:
    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> Cache:
        """The cache at ``path`` (created if missing), or the user's cache folder when None or empty."""
        root = writable_folder(path or default_cache_dir(), "--cache-dir", create=True)
        return cls(root.resolve())

    # -- download -------------------------------------------------------------------

    def media_dir(self, key: str) -> Path:
        """The folder of one video's download."""
        return self.root / "media" / _safe(key)

    def media_record_path(self, key: str) -> Path:
        """The record of a finished download, written last: no record, no finished download."""
        return self.media_dir(key) / MEDIA_RECORD_NAME

    # -- prepare, transcribe, export --------------------------------------------------

    def audio_path(self, key: str) -> Path:
        return self.root / "audio" / f"{_safe(key)}.wav"

    def entry(self, folder: str, key: str, fingerprint: str) -> Path:
        """A keyed result: ``<folder>/<key>/<fingerprint>.json`` for a folder of ``KEYED_ENTRIES``."""
        if folder not in KEYED_ENTRIES:
            raise ValueError(f"unknown cache folder {folder!r} (known: {', '.join(KEYED_ENTRIES)})")
        return self.root / folder / _safe(key) / f"{fingerprint}.json"

    def export_dir(self, key: str) -> Path:
        return self.root / "exports" / _safe(key)

    def review_media_path(self, key: str) -> Path:
        """The media of a video as the review page's browser plays it, when its download is not playable."""
        return self.root / "review" / f"{_safe(key)}.webm"

    # -- locks ------------------------------------------------------------------------

    def lock(self, name: str, timeout: float = -1) -> FileLock:
        """A lock shared by every process using this cache (blocks until free by default)."""
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=timeout)

    def page_lock(self, page_path: str | Path) -> FileLock:
        digest = hashlib.sha256(str(Path(page_path).resolve()).encode()).hexdigest()[:20]
        return self.lock(f"page-{digest}")
