"""What a bad download costs a batch, with this branch's rules and without them, in one run.

1. A host name that does not resolve (``http://nonexistent.invalid/x.mp3``) with the shipped
   [download] options (3 retries, 5 s first wait): resolver calls and seconds, now (fails at
   once) and with the old rule (a name-resolution failure counted as transient). The resolver
   answers only for the loopback, as glibc does offline, so no query leaves the machine.
2. An endless HTTP stream from tests/mediaserver.py (``/endless/NAME``, 127.0.0.1): seconds
   until download() returns and bytes left in the cache, with ``max_filesize`` and without a cap
   (then the server's own safety stop, 64 MB, is all that ends it; a real endless stream does
   not end).

    .venv/bin/python scripts/bench_download_limits.py [--cap 16M]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import socket
import tempfile
import time
from pathlib import Path
from unittest import mock

from pipeline import download as download_stage
from pipeline.cache import Cache
from pipeline.config import load_config
from pipeline.download_errors import DownloadError

from evalkit.harness import REPO
from evalkit.mediaserver import ENDLESS_SAFETY_BYTES, MediaServer

OFFLINE_URL = "http://nonexistent.invalid/x.mp3"
SPEECH = REPO.parent / "shared" / "audio" / "jfk.flac"


def offline_download(old_rule: bool) -> tuple[int, float, str]:
    """(resolver calls for the host, seconds, outcome) of one download of OFFLINE_URL."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        asked.append(str(host))
        if host in ("127.0.0.1", "localhost"):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with contextlib.ExitStack() as stack:
        cache = stack.enter_context(tempfile.TemporaryDirectory())
        stack.enter_context(mock.patch.object(socket, "getaddrinfo", getaddrinfo))
        if old_rule:  # before this branch the network error was classified as transient, and retried
            stack.enter_context(mock.patch.object(download_stage, "_is_name_resolution_failure", lambda causes: False))
        start = time.perf_counter()
        try:
            download_stage.download(OFFLINE_URL, Cache(Path(cache)), load_config().download)
            outcome = "downloaded?"
        except DownloadError as e:
            outcome = e.reason
        seconds = time.perf_counter() - start
    return asked.count("nonexistent.invalid"), seconds, outcome


def endless_download(server: MediaServer, cap: str) -> tuple[float, int, str]:
    """(seconds, bytes left in the cache, outcome) of one download of the endless stream."""
    options = dataclasses.replace(load_config().download, max_filesize=cap, retries=0)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        try:
            media = download_stage.download(server.url(f"endless/{SPEECH.name}"), Cache(Path(cache)), options)
            outcome = f"finished: a {media.path.stat().st_size / 1024**2:.0f} MB file recorded as the talk"
        except DownloadError as e:
            outcome = e.reason
        seconds = time.perf_counter() - start
        left = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file())
    return seconds, left, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", default="16M", help="max_filesize for the endless stream (default 16M)")
    args = parser.parse_args()

    logging.getLogger("pipeline.download").setLevel(logging.ERROR)  # the old rule's retry warnings
    with MediaServer(SPEECH.parent) as server:
        # Warm up: the first download of a process imports yt-dlp and loads its extractors (seconds).
        with contextlib.suppress(DownloadError), tempfile.TemporaryDirectory() as cache:
            download_stage.download(server.url("status/404"), Cache(Path(cache)), load_config().download)

        print(f"1. {OFFLINE_URL}, shipped [download] options (retries 3, retry_wait 5 s)")
        for label, old_rule in (("this branch", False), ("old rule (transient)", True)):
            calls, seconds, outcome = offline_download(old_rule)
            print(f"   {label:22} {calls} attempt(s) {seconds:6.1f} s   {outcome}")

        print(f"2. endless stream on 127.0.0.1 (server safety stop {ENDLESS_SAFETY_BYTES // 1024**2} MB)")
        for label, cap in ((f"max_filesize {args.cap}", args.cap), ("no cap", "")):
            seconds, left, outcome = endless_download(server, cap)
            print(f"   {label:22} {seconds:6.2f} s   {left / 1024**2:5.1f} MB left in the cache   {outcome}")


if __name__ == "__main__":
    main()
