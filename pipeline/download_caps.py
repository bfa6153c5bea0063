"""The [download] caps of one download: size, duration and transfer time, checked before and
during the transfer (``download`` applies them; a broken cap raises ``DownloadLimitError``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .config import ConfigError, DownloadOptions
from .download_errors import IS_LIVE, DownloadLimitError


@dataclass
class Caps:
    """The [download] caps of one download() call, checked before and during the transfer."""

    options: DownloadOptions  # for the messages, which name each cap as the user set it
    max_bytes: int | None
    max_duration: float | None
    max_transfer_seconds: float | None
    # The first byte's time.monotonic(): the clock starts there, so neither waiting for another run's
    # download of the same video nor yt-dlp's start-up and extraction (seconds on a busy machine, a
    # site's JavaScript challenge) counts; a stall before it is the socket_timeout's to catch.
    first_byte: float | None = None

    @classmethod
    def of(cls, options: DownloadOptions) -> Caps:
        from yt_dlp.utils import parse_bytes

        max_bytes = parse_bytes(options.max_filesize.strip()) if options.max_filesize.strip() else None
        if options.max_filesize.strip() and max_bytes is None:
            raise ConfigError(f"[download] max_filesize: {options.max_filesize!r} is not a size (e.g. 2G, 500M)")
        for name in ("max_duration", "max_transfer_seconds"):
            if getattr(options, name) < 0:
                raise ConfigError(f"[download] {name}: must be 0 (no cap) or more, not {getattr(options, name):g}")
        return cls(
            options=options,
            max_bytes=max_bytes or None,
            max_duration=options.max_duration or None,
            max_transfer_seconds=options.max_transfer_seconds or None,
        )

    def check_metadata(self, url: str, info: dict) -> None:
        """Refuse what the site's metadata already shows to be over a cap, before any byte is fetched."""
        if info.get("is_live"):
            raise DownloadLimitError(url, IS_LIVE)
        duration = info.get("duration")
        if self.max_duration and isinstance(duration, (int, float)) and duration > self.max_duration:
            raise DownloadLimitError(
                url,
                f"{clock_text(duration)} long: longer than [download] max_duration "
                f"({self.options.max_duration:g} s = {clock_text(self.max_duration)})",
            )
        size = info.get("filesize") or info.get("filesize_approx")
        if self.max_bytes and isinstance(size, (int, float)) and size > self.max_bytes:
            raise DownloadLimitError(url, f"{size_text(size)}: {self._too_large()}")

    def check_transfer(self, url: str, done: int, total: int | None) -> None:
        if self.max_bytes and total and total > self.max_bytes:  # the server's Content-Length says so
            raise DownloadLimitError(url, f"{size_text(total)}: {self._too_large()}")
        if self.max_bytes and done > self.max_bytes:  # a stream of unknown length
            raise DownloadLimitError(url, f"stopped at {size_text(done)}: {self._too_large()}")
        now = time.monotonic()
        if self.first_byte is None:
            self.first_byte = now
        elapsed = now - self.first_byte
        if self.max_transfer_seconds and elapsed > self.max_transfer_seconds:
            raise DownloadLimitError(
                url,
                f"stopped after {elapsed:.0f} s at {size_text(done)}: slower than [download] "
                f"max_transfer_seconds ({self.options.max_transfer_seconds:g} s) allows",
            )

    def _too_large(self) -> str:
        return f"larger than [download] max_filesize ({self.options.max_filesize.strip()})"


def size_text(nbytes: float) -> str:
    """Bytes in the binary units yt-dlp's size syntax uses ("1M" is 1024 * 1024 bytes)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
