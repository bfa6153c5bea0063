"""Where every stage keeps its results, so that no finished work is ever redone.

Layout under the cache root (one entry per video key, see ``download.media_key``)::

    media/<key>/...            downloaded media and its record (download stage)
    audio/<key>.wav            16 kHz mono audio (prepare stage)
    transcripts/<key>/<fp>.json  a transcription, per model and options fingerprint
    exports/<key>/<fp>.srt|vtt|json   subtitles and word-level JSON (--export)
    locks/<name>.lock          file locks shared by concurrent runs

Every file is written atomically (temp file and rename), so a run killed at any
moment leaves either the finished entry or nothing usable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from filelock import FileLock

APP_NAME = "du-transcripts"


def default_cache_dir() -> Path:
    """The user's cache folder for this tool (``$XDG_CACHE_HOME/du-transcripts`` on Linux)."""
    return platformdirs.user_cache_path(APP_NAME)


@dataclass(frozen=True)
class Cache:
    root: Path

    @classmethod
    def at(cls, path: str | Path | None) -> Cache:
        root = Path(path).expanduser() if path else default_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        return cls(root.resolve())

    def audio_path(self, key: str) -> Path:
        return self.root / "audio" / f"{key}.wav"

    def transcript_path(self, key: str, fingerprint: str) -> Path:
        return self.root / "transcripts" / key / f"{fingerprint}.json"

    def export_dir(self, key: str) -> Path:
        return self.root / "exports" / key

    def lock(self, name: str, timeout: float = -1) -> FileLock:
        """A lock shared by every process using this cache (blocks until free by default)."""
        path = self.root / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=timeout)

    def page_lock(self, page_path: str | Path) -> FileLock:
        digest = hashlib.sha256(str(Path(page_path).resolve()).encode()).hexdigest()[:20]
        return self.lock(f"page-{digest}")
