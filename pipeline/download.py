"""Download a video's audio with yt-dlp (its Python API), into the cache.

CONTRACT (other modules rely on these names; keep them):

- ``media_key(url) -> str``: a file-name-safe cache key for a URL or local path
  ("yt-<id>" for YouTube, else a short hash), never able to escape a folder.
- ``download(url, cache: Cache, options: DownloadOptions, *, progress=None) -> Media``
  best audio only; local paths (and file:// URLs) are used in place, not copied.
  A finished download is reused; a partial one is resumed or redone, never used.
  Failures raise ``DownloadError`` with a one-line message (404, private/removed
  video, not media, rate limited -> ``RateLimitedError``, a subclass; over a
  ``[download]`` cap -> ``DownloadLimitError``, a subclass).
- ``cached_media(url, cache: Cache) -> Media | None``: the finished download (or the
  local file) if there is one, without any network access.
- ``check_options(options)``: ConfigError for cookies / browser / rate limit / cap values
  yt-dlp would refuse, so a batch can stop before its first download.
- ``local_media_path(value, page_source, root) -> Path``: the local file a page names,
  refused (``DownloadError``) unless it lies inside ``root``, the folder tree given to ``run``.

Caps (``[download] max_filesize``, ``max_duration``, ``max_transfer_seconds``): a video
whose metadata already breaks one is refused before any byte is fetched; a transfer that
grows past the size, or still runs that long after its first byte (an endless or trickling
stream), is stopped by a progress hook. Either way ``DownloadLimitError`` names the cap,
and the partial file is deleted rather than kept for resuming: it would hit the cap again.

A host name that does not resolve fails at once (no retries): offline or mistyped, asking
again in a few seconds does not change the answer.

Cache layout (``Cache.media_dir``): ``media/<key>/`` holds ``media.<ext>`` and
``download.json``, the record of a finished download, written atomically and
last. A download counts as finished only when the record exists and the file's
size matches it, so a run killed at any moment (even by a power loss: the file
is synced before the record is written) leaves nothing that passes for finished.
yt-dlp's ``media.<ext>.part`` is resumed by the next run (HTTP Range).

Playlists: a URL naming a video inside a playlist (``watch?v=X&list=Y``) gets that
video alone; a URL naming only a playlist is refused ("is a playlist"), since an
event page's transcript needs one recording, and guessing which one would be wrong.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tenacity

from .cache import MEDIA_RECORD_NAME, Cache
from .config import ConfigError, DownloadOptions
from .download_caps import Caps
from .download_errors import (
    IS_PLAYLIST,
    NO_SUCH_FILE,
    NOT_MEDIA,
    DownloadError,
    DownloadLimitError,
    RateLimitedError,
    TransientError,
    classify,
    last_line,
)
from .locations import local_path, media_key, path_exists
from .utils import atomic_write_text

# The module's surface: the errors and their messages live in download_errors, where a
# video's media is (its cache key, a local file's path, its site) in locations.
__all__ = ["RECORD_NAME", "Media", "cached_media", "check_options", "download", "remove_cached"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (downloaded_bytes, total_bytes or None)

RECORD_NAME = MEDIA_RECORD_NAME  # where Cache.media_record_path looks
MEDIA_STEM = "media"
# Waits before retrying a rate-limited request are this many times longer than
# for a network hiccup: hammering a site that said "slow down" only prolongs the ban.
RATE_LIMIT_WAIT_FACTOR = 4.0


@dataclass
class Media:
    url: str
    key: str
    path: Path  # the downloaded (or local) media file
    title: str | None = None
    duration: float | None = None
    from_cache: bool = False  # True when nothing was fetched: a finished download reused, or a local file
    # The video's own chapters as yt-dlp reports them (YouTube's description chapters):
    # [{"start_time", "end_time", "title"}]; align.metadata_chapters turns them into Chapters.
    chapters: list[dict] = field(default_factory=list)


# -- the cache ---------------------------------------------------------------------------


def cached_media(url: str, cache: Cache) -> Media | None:
    """The finished download of ``url`` (or the local file it names), without any network access."""
    local = local_path(url)
    if local is not None:
        return _local_media(url, local) if path_exists(local) and local.is_file() else None
    key = media_key(url)
    folder = cache.media_dir(key)
    try:
        record = json.loads(cache.media_record_path(key).read_text("utf-8"))
        path = folder / record["file"]
        if Path(record["file"]).name != record["file"] or path.stat().st_size != record["size"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Media(
        url=url,
        key=key,
        path=path,
        title=record.get("title"),
        duration=record.get("duration"),
        from_cache=True,
        chapters=_chapter_dicts(record.get("chapters")),
    )


def _local_media(url: str, path: Path) -> Media:
    return Media(url=url, key=media_key(url), path=path.resolve(), title=path.stem, from_cache=True)


def _write_record(folder: Path, media: Media) -> None:
    # The file must be on disk before the record that vouches for it.
    with open(media.path, "rb") as f:
        os.fsync(f.fileno())
    record = {
        "url": media.url,
        "key": media.key,
        "file": media.path.name,
        "size": media.path.stat().st_size,
        "title": media.title,
        "duration": media.duration,
        "chapters": media.chapters,
    }
    atomic_write_text(folder / RECORD_NAME, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def _discard_partial(folder: Path) -> None:
    """Remove a capped download's files, its ``.part`` included: resumed, it would only hit the cap again."""
    for item in folder.iterdir():
        if item.is_file():
            item.unlink(missing_ok=True)


def _clear_unfinished(folder: Path, *, keep: Path | None = None) -> None:
    """Remove whatever no record vouches for, except yt-dlp's resumable ``.part`` files.

    A finished-looking ``media.<ext>`` without a record may be a file renamed by
    yt-dlp just before a power loss (its data never synced): it is fetched again.
    """
    for item in folder.iterdir():
        if item == keep or item.name == RECORD_NAME or not item.is_file():
            continue
        if keep is None and item.name.endswith((".part", ".ytdl")):
            continue
        item.unlink(missing_ok=True)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # only succeeds when nothing, not even a resumable .part, is inside
    except OSError:
        pass


def remove_cached(media: Media) -> None:
    """Forget a download (e.g. one that turned out not to decode); local files are never touched."""
    folder = media.path.parent
    if folder.parent.name != "media" or folder.name != media.key:
        return
    (folder / RECORD_NAME).unlink(missing_ok=True)
    media.path.unlink(missing_ok=True)


# -- downloading -------------------------------------------------------------------------


def download(url: str, cache: Cache, options: DownloadOptions, *, progress: Progress | None = None) -> Media:
    """Fetch the best audio of ``url`` into ``cache.media_dir(key)``, or reuse a finished download.

    Retries transient failures (network errors, 5xx, cut connections) with
    exponential back-off from ``options.retry_wait``; a rate-limited answer is
    retried after longer waits and then raised as :class:`RateLimitedError`.
    A cap of ``options`` broken raises :class:`DownloadLimitError` (never retried).
    """
    local = local_path(url)
    if local is not None:
        if not path_exists(local):
            raise DownloadError(url, NO_SUCH_FILE)
        if not local.is_file():
            raise DownloadError(url, "not a file")
        return _local_media(url, local)

    cached = cached_media(url, cache)
    if cached is not None:
        return cached

    key = media_key(url)
    folder = cache.media_dir(key)
    caps = Caps.of(options)
    ydl_options = _ydl_options(options, folder, _transfer_hook(url, caps, progress))
    with cache.lock(f"download-{key}"):
        cached = cached_media(url, cache)  # another process may have finished it meanwhile
        if cached is not None:
            return cached
        folder.mkdir(parents=True, exist_ok=True)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((TransientError, RateLimitedError)),
            stop=tenacity.stop_after_attempt(max(0, options.retries) + 1),
            wait=_backoff(options.retry_wait),
            before_sleep=_tell_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    media = _download_once(url, key, folder, ydl_options, caps)
        except TransientError as e:
            raise DownloadError(url, e.reason) from None
        except DownloadLimitError:
            _discard_partial(folder)
            raise
        finally:
            _remove_if_empty(folder)
        _write_record(folder, media)
        _clear_unfinished(folder, keep=media.path)
        return media


def _download_once(url: str, key: str, folder: Path, ydl_options: dict, caps: Caps) -> Media:
    import yt_dlp

    _clear_unfinished(folder)
    try:
        with yt_dlp.YoutubeDL(ydl_options) as ydl:
            # Look first, download second: a playlist is refused before any of it is fetched.
            info = ydl.extract_info(url, download=False)
            if info is None:
                raise DownloadError(url, NOT_MEDIA)
            if info.get("_type") in ("playlist", "multi_video"):
                raise DownloadError(url, IS_PLAYLIST)
            caps.check_metadata(url, info)
            info = ydl.process_ie_result(info, download=True)
    except yt_dlp.utils.YoutubeDLError as e:
        raise classify(url, e) from None
    except OSError as e:  # the cache's disk, not the network
        raise DownloadError(url, f"cannot write the download: {e.strerror or e}") from None

    path = _downloaded_file(info, folder)
    if path is None:
        raise DownloadError(url, "yt-dlp finished but no file was written")
    duration = info.get("duration")
    return Media(
        url=url,
        key=key,
        path=path,
        title=info.get("title"),
        duration=float(duration) if duration else None,
        from_cache=False,
        chapters=_chapter_dicts(info.get("chapters")),
    )


def _chapter_dicts(chapters: object) -> list[dict]:
    """yt-dlp's (or a record's) chapter list reduced to its three keys; anything else is dropped."""
    if not isinstance(chapters, list):
        return []
    keys = ("start_time", "end_time", "title")
    return [{k: c.get(k) for k in keys} for c in chapters if isinstance(c, dict)]


def _downloaded_file(info: dict, folder: Path) -> Path | None:
    for item in info.get("requested_downloads") or []:
        path = Path(item.get("filepath") or "")
        if path.is_file() and path.parent == folder:
            return path
    # Fall back to the one finished media file in the folder.
    found = [p for p in folder.glob(f"{MEDIA_STEM}.*") if not p.name.endswith((".part", ".ytdl", ".tmp"))]
    return found[0] if len(found) == 1 else None


def _ydl_options(options: DownloadOptions, folder: Path, hook: Callable[[dict], None]) -> dict:
    from .audio import ffmpeg_path

    ydl_options = {
        "format": options.format,
        "paths": {"home": str(folder), "temp": str(folder)},
        "outtmpl": {"default": f"{MEDIA_STEM}.%(ext)s"},
        "ffmpeg_location": ffmpeg_path(),
        "continuedl": True,  # resume a .part left by a killed run
        "nopart": False,  # never write the final name until the download is complete
        "overwrites": True,  # a final file without a record is not trusted (see _clear_unfinished)
        "fixup": "never",  # prepare decodes any container ffmpeg reads; no post-processing
        "noplaylist": True,
        "extract_flat": "in_playlist",  # a playlist is refused without resolving its entries
        "quiet": True,
        "noprogress": True,
        "logger": _YtDlpLog(),
        "retries": max(0, options.retries),
        "fragment_retries": max(0, options.retries),
        "socket_timeout": options.socket_timeout,
        "js_runtimes": _js_runtimes(),
        "progress_hooks": [hook],
        **_cli_options(options),
    }
    if options.sleep_requests > 0:
        ydl_options["sleep_interval_requests"] = options.sleep_requests
    if options.sleep_interval > 0:
        ydl_options["sleep_interval"] = options.sleep_interval
    return ydl_options


def check_options(options: DownloadOptions) -> None:
    """ConfigError for a cookies file, browser, speed cap or download cap that cannot work (call once per batch)."""
    _cli_options(options)
    Caps.of(options)


def _js_runtimes() -> dict:
    """YouTube's formats hide behind JavaScript challenges that yt-dlp solves with a JS
    runtime: the Deno binary from the ``deno`` wheel, else whatever yt-dlp finds on PATH."""
    try:
        import deno

        return {"deno": {"path": deno.find_deno_bin()}}
    except (ImportError, OSError, RuntimeError):
        return {"deno": {}, "node": {}}


def _cli_options(options: DownloadOptions) -> dict:
    """Cookies and speed cap, parsed by yt-dlp itself so they mean exactly what its flags mean."""
    import yt_dlp

    argv = ["--ignore-config"]
    if options.cookies:
        cookie_file = Path(options.cookies).expanduser()
        if not cookie_file.is_file():
            raise ConfigError(f"[download] cookies: no such file: {cookie_file}")
        argv += ["--cookies", str(cookie_file)]
    if options.cookies_from_browser:
        argv += ["--cookies-from-browser", options.cookies_from_browser]
    if options.rate_limit:
        argv += ["--limit-rate", options.rate_limit]
    if len(argv) == 1:
        return {}
    try:
        parsed = yt_dlp.parse_options(argv).ydl_opts
    except (Exception, SystemExit) as e:  # optparse reports bad values by exiting
        reason = re.sub(r"^.*?error:\s*", "", last_line(str(e)))  # drop optparse's "prog: error: "
        raise ConfigError(f"[download] {reason}") from None
    return {name: parsed[name] for name in ("cookiefile", "cookiesfrombrowser", "ratelimit") if parsed.get(name)}


def _transfer_hook(url: str, caps: Caps, progress: Progress | None) -> Callable[[dict], None]:
    """yt-dlp's progress hook: enforces the caps as bytes arrive, then tells ``progress``.

    yt-dlp lets an exception raised here through unchanged (it is neither a network error
    nor an OSError, which it would wrap), with the ``.part`` file closed: download() removes it.
    """

    def hook(status: dict) -> None:
        if status.get("status") not in ("downloading", "finished"):
            return
        done = int(status.get("downloaded_bytes") or 0)
        caps.check_transfer(url, done, status.get("total_bytes"))
        if progress is not None:
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            progress(done, int(total) if total else None)

    return hook


class _YtDlpLog:
    """yt-dlp's messages go to our log, not the terminal (errors come back as exceptions)."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        if "Falling back on generic information extractor" not in message:
            log.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)


# -- retries and errors ------------------------------------------------------------------


def _backoff(first_wait: float):
    def wait(state: tenacity.RetryCallState) -> float:
        seconds = max(0.0, first_wait) * 2 ** (state.attempt_number - 1)
        if state.outcome is not None and isinstance(state.outcome.exception(), RateLimitedError):
            seconds *= RATE_LIMIT_WAIT_FACTOR
        return seconds

    return wait


def _tell_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning("%s; retrying in %.3g s (attempt %d)", error, wait, state.attempt_number + 1)
