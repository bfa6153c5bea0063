"""Download a video's audio with yt-dlp (its Python API), into the cache.

CONTRACT (other modules rely on these names; keep them):

- ``media_key(url) -> str``: a file-name-safe cache key for a URL or local path
  ("yt-<id>" for YouTube, else a short hash), never able to escape a folder.
- ``download(url, cache_dir: Path, options: DownloadOptions, *, progress=None) -> Media``
  best audio only; local paths (and file:// URLs) are used in place, not copied.
  A finished download is reused; a partial one is resumed or redone, never used.
  Failures raise ``DownloadError`` with a one-line message (404, private/removed
  video, not media, rate limited -> ``RateLimitedError``, a subclass).
- ``cached_media(url, cache_dir) -> Media | None``: the finished download (or the
  local file) if there is one, without any network access.
- ``check_options(options)``: ConfigError for cookies / browser / rate limit values
  yt-dlp would refuse, so a batch can stop before its first download.

Cache layout: ``cache_dir/media/<key>/`` holds ``media.<ext>`` and
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

import hashlib
import json
import logging
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tenacity

from .cache import Cache
from .config import ConfigError, DownloadOptions
from .utils import atomic_write_text

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (downloaded_bytes, total_bytes or None)

RECORD_NAME = "download.json"
MEDIA_STEM = "media"
# Waits before retrying a rate-limited request are this many times longer than
# for a network hiccup: hammering a site that said "slow down" only prolongs the ban.
RATE_LIMIT_WAIT_FACTOR = 4.0

# Messages the user sees (the URL is appended by DownloadError).
NOT_FOUND = "not found (HTTP 404)"
PRIVATE = "private video"
FORBIDDEN = "forbidden (HTTP 403): private, or needs --cookies"
REMOVED = "video unavailable or removed"
NOT_MEDIA = "not a media file or page yt-dlp understands"
RATE_LIMITED = "rate limited (HTTP 429 / bot check): slow down with --sleep-requests/--sleep-interval or pass --cookies"
IS_PLAYLIST = "is a playlist: give the URL of one video"
NO_SUCH_FILE = "no such file"


class DownloadError(Exception):
    """A video that could not be fetched; str(e) is one line for the user."""

    def __init__(self, url: str, message: str):
        super().__init__(f"{message} ({url})")
        self.url = url
        self.reason = message


class RateLimitedError(DownloadError):
    """The site refused because of request volume (HTTP 429, YouTube's bot check)."""


class _TransientError(DownloadError):
    """A failure worth retrying: a network error, a 5xx, a connection cut mid-download."""


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


# -- keys --------------------------------------------------------------------------------

_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_YOUTUBE_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com"}
_YOUTUBE_PATH_PREFIXES = ("shorts", "embed", "live", "v", "e")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def media_key(url: str) -> str:
    """The cache key of a URL or local file: ``yt-<id>``, ``file-<hash>`` or ``url-<hash>``.

    Only ``[A-Za-z0-9_-]`` ever appears in a key, so it is safe as a file name.
    A local file's key changes when the file does (its size and mtime are hashed in).
    """
    local = _local_path(url)
    if local is not None and _exists(local) and local.is_file():
        stat = local.stat()
        return "file-" + _digest(f"{local.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}")
    video_id = youtube_id(url)
    if video_id is not None:
        return f"yt-{video_id}"
    return "url-" + _digest(url.strip())


def youtube_id(url: str) -> str | None:
    """The 11-character video id of a YouTube URL (youtu.be, watch?v=, shorts, embed, live), else None."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https", ""):
            return None
        if not parts.scheme:  # "youtu.be/ID" or "www.youtube.com/watch?v=ID" typed without a scheme
            parts = urllib.parse.urlsplit("https://" + url.strip())
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 address
        return None
    host = (parts.hostname or "").removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be" and segments:
        candidate = segments[0]
    elif host in _YOUTUBE_HOSTS:
        query_ids = urllib.parse.parse_qs(parts.query).get("v")
        if query_ids:
            candidate = query_ids[0]
        elif len(segments) >= 2 and segments[0] in _YOUTUBE_PATH_PREFIXES:
            candidate = segments[1]
    if candidate and _YOUTUBE_ID.fullmatch(candidate):
        return candidate
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for anything yt-dlp should fetch."""
    text = url.strip()
    if text.lower().startswith("file://"):
        try:
            return Path(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
        except ValueError:
            return Path(urllib.request.url2pathname(text[len("file://") :]))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return None
    path = Path(os.path.expanduser(text))  # "~user" with no such user stays as it is
    if _exists(path) or text.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return path
    # "youtu.be/ID", "example.com/talk.mp3": a URL typed without its scheme.
    if re.match(r"^[^\s/]+\.[^\s/]+/", text):
        return None
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


# -- the cache ---------------------------------------------------------------------------


def media_dir(cache_dir: str | Path, key: str) -> Path:
    if _UNSAFE.search(key) or not key:
        raise ValueError(f"unsafe cache key {key!r}")
    return Path(cache_dir) / "media" / key


def cached_media(url: str, cache_dir: str | Path) -> Media | None:
    """The finished download of ``url`` (or the local file it names), without any network access."""
    local = _local_path(url)
    if local is not None:
        return _local_media(url, local) if _exists(local) and local.is_file() else None
    key = media_key(url)
    folder = media_dir(cache_dir, key)
    try:
        record = json.loads((folder / RECORD_NAME).read_text("utf-8"))
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


def download(url: str, cache_dir: Path, options: DownloadOptions, *, progress: Progress | None = None) -> Media:
    """Fetch the best audio of ``url`` into ``cache_dir/media/<key>/``, or reuse a finished download.

    Retries transient failures (network errors, 5xx, cut connections) with
    exponential back-off from ``options.retry_wait``; a rate-limited answer is
    retried after longer waits and then raised as :class:`RateLimitedError`.
    """
    local = _local_path(url)
    if local is not None:
        if not _exists(local):
            raise DownloadError(url, NO_SUCH_FILE)
        if not local.is_file():
            raise DownloadError(url, "not a file")
        return _local_media(url, local)

    cached = cached_media(url, cache_dir)
    if cached is not None:
        return cached

    key = media_key(url)
    folder = media_dir(cache_dir, key)
    ydl_options = _ydl_options(options, folder, progress)
    with Cache(Path(cache_dir)).lock(f"download-{key}"):
        cached = cached_media(url, cache_dir)  # another process may have finished it meanwhile
        if cached is not None:
            return cached
        folder.mkdir(parents=True, exist_ok=True)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((_TransientError, RateLimitedError)),
            stop=tenacity.stop_after_attempt(max(0, options.retries) + 1),
            wait=_backoff(options.retry_wait),
            before_sleep=_tell_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    media = _download_once(url, key, folder, ydl_options)
        except _TransientError as e:
            raise DownloadError(url, e.reason) from None
        finally:
            _remove_if_empty(folder)
        _write_record(folder, media)
        _clear_unfinished(folder, keep=media.path)
        return media


def _download_once(url: str, key: str, folder: Path, ydl_options: dict) -> Media:
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
            info = ydl.process_ie_result(info, download=True)
    except yt_dlp.utils.YoutubeDLError as e:
        raise _classify(url, e) from None
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


def _ydl_options(options: DownloadOptions, folder: Path, progress: Progress | None) -> dict:
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
        "progress_hooks": [_progress_hook(progress)] if progress else [],
        **_cli_options(options),
    }
    if options.sleep_requests > 0:
        ydl_options["sleep_interval_requests"] = options.sleep_requests
    if options.sleep_interval > 0:
        ydl_options["sleep_interval"] = options.sleep_interval
    return ydl_options


def check_options(options: DownloadOptions) -> None:
    """Raise ConfigError for a cookies file, browser or speed cap yt-dlp would refuse (call once per batch)."""
    _cli_options(options)


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
        reason = re.sub(r"^.*?error:\s*", "", _last_line(str(e)))  # drop optparse's "prog: error: "
        raise ConfigError(f"[download] {reason}") from None
    return {name: parsed[name] for name in ("cookiefile", "cookiesfrombrowser", "ratelimit") if parsed.get(name)}


def _progress_hook(progress: Progress):
    def hook(status: dict) -> None:
        if status.get("status") in ("downloading", "finished"):
            done = status.get("downloaded_bytes") or 0
            total = status.get("total_bytes") or status.get("total_bytes_estimate")
            progress(int(done), int(total) if total else None)

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
        if isinstance(state.outcome.exception(), RateLimitedError):
            seconds *= RATE_LIMIT_WAIT_FACTOR
        return seconds

    return wait


def _tell_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception()
    log.warning("%s; retrying in %.3g s (attempt %d)", error, state.next_action.sleep, state.attempt_number + 1)


# Patterns of yt-dlp's (and YouTube's) error text, lower-cased, tried in this order.
# Text matters because yt-dlp's downloader reports some failures as a message only.
_TEXT_RULES: list[tuple[str, str, type[DownloadError]]] = [
    # YouTube answers a busy client with "Sign in to confirm you're not a bot" or
    # "This content isn't available" (sometimes "..., try again later").
    (
        r"not a bot|content isn.t available|try again later|rate-limit|too many requests|http error 429",
        RATE_LIMITED,
        RateLimitedError,
    ),
    (r"requested format is not available", "no format matches the configured [download] format", DownloadError),
    (r"private video|video is private", PRIVATE, DownloadError),
    (r"confirm your age|age-restricted", "age-restricted video: pass --cookies of a signed-in account", DownloadError),
    (
        r"video unavailable|video is unavailable|has been removed|no longer available|been terminated|is not available"
        r"|http error 410",
        REMOVED,
        DownloadError,
    ),
    (
        r"unsupported url|is not a valid url|no video formats found|no media found|unsafe extension|unable to extract",
        NOT_MEDIA,
        DownloadError,
    ),
    (r"http error 404", NOT_FOUND, DownloadError),
    (r"http error 403", FORBIDDEN, DownloadError),
    (r"http error 5\d\d", "server error (HTTP 5xx)", _TransientError),
    (
        r"downloaded \d+ bytes, expected|bytes read|more expected|connection (?:reset|refused|aborted)"
        r"|remote end closed|timed out|network is unreachable|temporary failure in name resolution",
        "connection lost before the download finished",
        _TransientError,
    ),
]


def _classify(url: str, error: Exception) -> DownloadError:
    """One user-facing error for whatever yt-dlp raised; transient ones come back as _TransientError."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    causes = _cause_chain(error)
    for cause in causes:
        if isinstance(cause, HTTPError):
            status = cause.status
            if status == 429:
                return RateLimitedError(url, RATE_LIMITED)
            if status == 404:
                return DownloadError(url, NOT_FOUND)
            if status == 410:
                return DownloadError(url, f"{REMOVED} (HTTP 410)")
            if status in (401, 403):
                return DownloadError(url, FORBIDDEN if status == 403 else "needs a login (HTTP 401): pass --cookies")
            if 500 <= status < 600:
                return _TransientError(url, f"server error (HTTP {status})")
            return DownloadError(url, f"HTTP error {status}")
    for cause in causes:
        if isinstance(cause, (TransportError, ConnectionError, TimeoutError)):
            return _TransientError(url, f"network error: {_last_line(str(cause))}")
    text = " ".join(str(c) for c in causes).lower()
    for pattern, message, error_class in _TEXT_RULES:
        if re.search(pattern, text):
            return error_class(url, message)
    return DownloadError(url, _last_line(_strip_ytdlp_prefix(str(error))) or type(error).__name__)


def _cause_chain(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps (yt-dlp keeps the original in ``exc_info`` and ``cause``)."""
    chain: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is seen for seen in chain) or not isinstance(item, BaseException):
            continue
        chain.append(item)
        exc_info = getattr(item, "exc_info", None)
        todo += [
            getattr(item, "cause", None),
            item.__cause__,
            item.__context__,
            exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None,
        ]
    return chain


def _strip_ytdlp_prefix(message: str) -> str:
    # "ERROR: [generic] abc: Unable to download webpage: ..." -> "Unable to download webpage: ..."
    message = re.sub(r"^ERROR:\s*", "", message.strip())
    return re.sub(r"^\[[^\]]+\]\s*(?:[^\s:]+:\s*)?", "", message)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
