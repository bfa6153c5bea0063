"""Why a download failed, in one line: the messages the user sees, the error classes, and the
classification of whatever yt-dlp raised (HTTP status, the cause chain, its message text).

``download`` raises these; ``TransientError`` marks what is worth retrying.
"""

from __future__ import annotations

import re
import socket

# Messages the user sees (the URL is appended by DownloadError).
NOT_FOUND = "not found (HTTP 404)"
PRIVATE = "private video"
FORBIDDEN = "forbidden (HTTP 403): private, or needs --cookies"
REMOVED = "video unavailable or removed"
NOT_MEDIA = "not a media file or page yt-dlp understands"
RATE_LIMITED = "rate limited (HTTP 429 / bot check): slow down with --sleep-requests/--sleep-interval or pass --cookies"
IS_PLAYLIST = "is a playlist: give the URL of one video"
NO_SUCH_FILE = "no such file"
HOST_NOT_FOUND = "host name does not resolve (no such host, or no network)"
IS_LIVE = "is a live stream: give the URL of its recording"
ABSOLUTE_LOCAL = "an absolute path: a page names its local media relative to itself, inside the folder given to run"


class DownloadError(Exception):
    """A video that could not be fetched; str(e) is one line for the user."""

    def __init__(self, url: str, message: str):
        super().__init__(f"{message} ({url})")
        self.url = url
        self.reason = message


class RateLimitedError(DownloadError):
    """The site refused because of request volume (HTTP 429, YouTube's bot check)."""


class DownloadLimitError(DownloadError):
    """A download refused or stopped by a [download] cap (max_filesize, max_duration, max_transfer_seconds)."""


class TransientError(DownloadError):
    """A failure worth retrying: a network error, a 5xx, a connection cut mid-download."""


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
    (r"http error 5\d\d", "server error (HTTP 5xx)", TransientError),
    (
        r"downloaded \d+ bytes, expected|bytes read|more expected|connection (?:reset|refused|aborted)"
        r"|remote end closed|timed out|network is unreachable",
        "connection lost before the download finished",
        TransientError,
    ),
]


def classify(url: str, error: Exception) -> DownloadError:
    """One user-facing error for whatever yt-dlp raised; transient ones come back as TransientError."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    causes = _cause_chain(error)
    if _is_name_resolution_failure(causes):
        return DownloadError(url, HOST_NOT_FOUND)
    for cause in causes:
        if isinstance(cause, HTTPError):
            return _from_http_status(url, cause.status)
    for cause in causes:
        if isinstance(cause, (TransportError, ConnectionError, TimeoutError)):
            return TransientError(url, f"network error: {last_line(str(cause))}")
    text = " ".join(str(c) for c in causes).lower()
    for pattern, message, error_class in _TEXT_RULES:
        if re.search(pattern, text):
            return error_class(url, message)
    return DownloadError(url, last_line(_strip_ytdlp_prefix(str(error))) or type(error).__name__)


def _from_http_status(url: str, status: int) -> DownloadError:
    if status == 429:
        return RateLimitedError(url, RATE_LIMITED)
    if status == 404:
        return DownloadError(url, NOT_FOUND)
    if status == 410:
        return DownloadError(url, f"{REMOVED} (HTTP 410)")
    if status in (401, 403):
        return DownloadError(url, FORBIDDEN if status == 403 else "needs a login (HTTP 401): pass --cookies")
    if 500 <= status < 600:
        return TransientError(url, f"server error (HTTP {status})")
    return DownloadError(url, f"HTTP error {status}")


# glibc's texts for EAI_NONAME, EAI_AGAIN and EAI_NODATA, macOS's and Windows' (the text, since
# yt-dlp's request handlers do not always keep the socket.gaierror in the chain).
_NAME_RESOLUTION = re.compile(
    r"name or service not known|temporary failure in name resolution|no address associated with hostname"
    r"|nodename nor servname|getaddrinfo failed"
)


def _is_name_resolution_failure(causes: list[BaseException]) -> bool:
    """A host name that does not resolve: not transient, asking again gets the same answer."""
    return any(isinstance(c, socket.gaierror) for c in causes) or any(
        _NAME_RESOLUTION.search(str(c).lower()) for c in causes
    )


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


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
