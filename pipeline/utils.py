"""Small helpers shared by several stages."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import ConfigError


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a mix.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    and the file is renamed over ``path`` (an atomic step on POSIX and Windows).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except FileNotFoundError:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def writable_folder(path: str | Path, option: str, *, create: bool) -> Path:
    """``path`` as a folder this process can write into, checked by writing a file there (a folder can
    exist and still refuse files: /proc, a read-only mount). ``create``: make it first; otherwise a
    missing folder is checked at its nearest existing parent, and nothing is left behind either way."""
    folder = Path(path).expanduser()
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        probe_in = folder
        while not create and not probe_in.exists() and probe_in != probe_in.parent:
            probe_in = probe_in.parent
        if not probe_in.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a folder")
        fd, probe = tempfile.mkstemp(dir=probe_in, prefix=".du-transcripts-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:  # a file in the way, no permission, a read-only disk, a pseudo file system
        raise ConfigError(f"{option} {folder}: cannot write there ({e.strerror or type(e).__name__})") from None
    return folder


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def format_timestamp(seconds: float) -> str:
    """``mm:ss`` below an hour, ``h:mm:ss`` from an hour on (the house style)."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


# What ends a sentence, and the closing quotes or brackets that may follow it ("end.)").
SENTENCE_END = (".", "?", "!", "…")
CLOSERS = "\"'”’)]}"


def repeat_count(tokens: Sequence[str], i: int, n: int) -> int:
    """How many times the ``n`` tokens at ``i`` occur back to back from there: 1 when not
    repeated, 0 when fewer than ``n`` are left. Decoding loops and flagged repetitions use it."""
    gram = list(tokens[i : i + n])
    if len(gram) < n:
        return 0
    repeats = 1
    while list(tokens[i + repeats * n : i + (repeats + 1) * n]) == gram:
        repeats += 1
    return repeats


def one_line(error: BaseException) -> str:
    """An error as one line: its message with the white space folded, or its type's name."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def add_timings(total: Mapping[str, float], more: Mapping[str, float]) -> dict[str, float]:
    """The two stage timings added up, stage by stage (a new dict)."""
    merged = dict(total)
    for stage, seconds in more.items():
        merged[stage] = merged.get(stage, 0.0) + seconds
    return merged
