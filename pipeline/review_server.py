"""The review page's local web server: one page's draft, media and save endpoint, behind a secret token.

- ``ReviewServer(session, port=0)``: binds 127.0.0.1 only; ``.url`` is the page's
  address, ``http://127.0.0.1:PORT/TOKEN/``; ``serve_forever()`` / ``close()``;
  also a context manager that serves in a background thread (the tests).
- ``serve(session, *, port, open_browser, announce=print) -> int``: serve until
  Ctrl-C, printing the URL on one line; returns the exit status (0).

Routes, all under ``/TOKEN/``: ``""`` (the page), ``review.js``, ``review.css``,
``draft.json``, ``audio/N`` (the N-th video's media, with HTTP Range so the
browser can seek), ``save`` (POST JSON ``{"draftHash": h, "paragraphs": {id: markdown}}``).
Anything else is 404, a wrong or missing token 403, and a Host header other than
this server's 403 (no DNS rebinding). No path from a request ever reaches the disk.

Every request gets a status and, for a refusal, a one-line JSON ``{"error": ...}``: a
malformed request is 4xx, never a traceback on the terminal. A save names the draft
version it was made from (``draftHash`` of draft.json): one made from an older version
(another tab saved, or an earlier save of this tab changed the paragraph ids) is 409.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from .pages import MAX_PAGE_BYTES
from .review import PageChangedError, ReviewError, ReviewSession, draft_to_json, save_edits

STATIC = {"": ("review.html", "text/html; charset=utf-8"), "review.js": ("review.js", "text/javascript; charset=utf-8")}
STATIC["review.css"] = ("review.css", "text/css; charset=utf-8")
# A page may hold MAX_PAGE_BYTES (5 MB; a 3-hour draft is about 1 MB): a save body twice that
# is refused unread, and the page a save would make is checked against the limit when written.
MAX_SAVE_BYTES = 2 * MAX_PAGE_BYTES
_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_AUDIO_RE = re.compile(r"^audio/([0-9]{1,6})$")
_ID_RE = re.compile(r"^[0-9]{1,9}$")
_CHUNK = 256 * 1024
# A request that stalls mid-headers or mid-body frees its thread after this many seconds.
REQUEST_TIMEOUT_SECONDS = 30


class BadRequest(ValueError):
    """A request the server refuses: its HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str, *, stale: bool = False):
        super().__init__(message)
        self.status = status
        self.stale = stale  # the browser's draft is older than the server's: reloading it helps


def _number(digits: str) -> int:
    """A byte position from a header; anything past 10^18 is as good as infinite (and int() of
    thousands of digits raises)."""
    return int(digits) if len(digits) <= 18 else 10**18


def _static(name: str) -> bytes:
    return resources.files("pipeline").joinpath("review_static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # a garbled request line still gets a status line back
    timeout = REQUEST_TIMEOUT_SECONDS
    responded = False

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the terminal shows the URL, not every request

    def send_response(self, code, message=None):
        self.responded = True
        super().send_response(code, message)

    def send_error(self, code, message=None, explain=None):
        """The base class's refusals (a bad request line, too many headers, an unknown method), as JSON."""
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:  # a method this server has no use for: the client's mistake
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed here"
        self._send(code, json.dumps({"error": message or HTTPStatus(code).phrase}).encode(), "application/json")

    def handle_one_request(self):
        self.responded = False
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the browser went away, or the request stalled
        except Exception as e:  # a bug must cost one request, answered, never a traceback
            self.close_connection = True
            self.server.report(f"review: a request failed: {type(e).__name__}: {' '.join(str(e).split())[:200]}")
            if not self.responded:
                self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the server failed: {type(e).__name__}")

    def _route(self) -> str | None:
        """The path after the token, or None once a refusal has been sent."""
        host = self.headers.get("Host", "")
        if host not in self.server.hosts:
            self._send_error(HTTPStatus.FORBIDDEN, "unknown host")
            return None
        path = self.path.split("?", 1)[0]
        prefix = f"/{self.server.token}/"
        if not path.startswith(prefix) or not secrets.compare_digest(path[: len(prefix)], prefix):
            self._send_error(HTTPStatus.FORBIDDEN, "no valid token")
            return None
        return path[len(prefix) :]

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        route = self._route()
        if route is None:
            return
        if route in STATIC:
            name, content_type = STATIC[route]
            csp = "default-src 'self'; media-src 'self'; style-src 'self'; script-src 'self'"
            self._send(HTTPStatus.OK, _static(name), content_type, {"Content-Security-Policy": csp})
        elif route == "draft.json":
            self._send(HTTPStatus.OK, self.server.draft_bytes(), "application/json; charset=utf-8")
        elif (audio := _AUDIO_RE.match(route)) and int(audio.group(1)) < len(self.server.session.media):
            source = self.server.session.media[int(audio.group(1))]
            self._send_file(source.path, source.content_type)
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not found")

    def _byte_range(self, size: int) -> tuple[int, int] | None:
        """(first, last) of a satisfiable ``Range: bytes=a-b``; None for the whole file; (-1, -1) unsatisfiable."""
        header = self.headers.get("Range")
        match = _RANGE_RE.match(header.strip()) if header else None
        if not match or not (match.group(1) or match.group(2)):
            return None
        if match.group(1):
            first = _number(match.group(1))
            last = min(_number(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # bytes=-N: the last N bytes
            first, last = max(0, size - _number(match.group(2))), size - 1
        return (first, last) if first <= last < size else (-1, -1)

    def _send_file(self, path: Path, content_type: str) -> None:
        try:
            size = path.stat().st_size
        except OSError:  # the cache was cleaned while the review runs
            self._send_error(HTTPStatus.NOT_FOUND, "the media file is gone; restart the review")
            return
        span = self._byte_range(size)
        if span == (-1, -1):
            error = json.dumps({"error": f"the range is not within the file's {size} bytes"}).encode()
            self._send(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, error, "application/json", {"Content-Range": f"*/{size}"}
            )
            return
        first, last = span or (0, size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(first)
            left = last - first + 1
            try:
                while left > 0:
                    chunk = f.read(min(_CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser seeks elsewhere and drops the connection: normal

    def do_POST(self):
        route = self._route()
        if route is None:
            return
        if route != "save":
            self._send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        try:
            draft_hash, paragraphs = self._save_request()
            with self.server.lock:
                new_hash = self._save(draft_hash, paragraphs)
        except BadRequest as e:
            self._send_json(e.status, {"error": str(e), "stale": True} if e.stale else {"error": str(e)})
        else:
            self._send_json(HTTPStatus.OK, {"saved": True, "draftHash": new_hash})

    def _save_request(self) -> tuple[str, dict[int, str]]:
        """(the draft version the browser loaded, {paragraph id: its Markdown}) of a save's body."""
        length_header = (self.headers.get("Content-Length") or "").strip()
        if not length_header.isascii() or not length_header.isdigit() or len(length_header) > 12:
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "a save needs a Content-Length")
        length = int(length_header)
        if length > MAX_SAVE_BYTES:
            raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a save may hold {MAX_SAVE_BYTES} bytes")
        if not 0 < length or "json" not in self.headers.get("Content-Type", ""):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "expected a JSON body")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise BadRequest(HTTPStatus.REQUEST_TIMEOUT, "the body did not arrive") from None
        if len(body) < length:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the body ended before its Content-Length")
        try:
            data = json.loads(body)
            draft_hash, edits = data["draftHash"], data["paragraphs"]
            if not isinstance(draft_hash, str) or not isinstance(edits, dict):
                raise TypeError
            # A lone surrogate ("\ud800") is valid JSON but no text a page can hold: encoding refuses it.
            if not all(_ID_RE.match(k) and isinstance(v, str) for k, v in edits.items()):
                raise TypeError
            for text in edits.values():
                text.encode("utf-8")
        except (ValueError, KeyError, TypeError, RecursionError):
            raise BadRequest(HTTPStatus.BAD_REQUEST, 'expected {"draftHash": text, "paragraphs": {id: text}}') from None
        return draft_hash, {int(k): v for k, v in edits.items()}

    def _save(self, draft_hash: str, paragraphs: dict[int, str]) -> str:
        """Write the edits (under the server's lock); the new draft version."""
        session = self.server.session
        if draft_hash != session.draft_hash:
            raise BadRequest(
                HTTPStatus.CONFLICT,
                "the draft changed since this page loaded it (another tab or an earlier save)",
                stale=True,
            )
        if not all(i < len(session.blocks) and session.blocks[i].kind == "paragraph" for i in paragraphs):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "a save names a paragraph the draft does not have")
        try:
            return save_edits(session, paragraphs)
        except PageChangedError as e:
            raise BadRequest(HTTPStatus.CONFLICT, str(e)) from None
        except (ReviewError, OSError, UnicodeError) as e:
            raise BadRequest(HTTPStatus.UNPROCESSABLE_ENTITY, " ".join(str(e).split())) from None


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, session: ReviewSession, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.session = session
        self.token = secrets.token_urlsafe(24)
        self.lock = threading.Lock()  # one save at a time, and no draft read during a save
        bound = self.server_address[1]
        self.hosts = {f"127.0.0.1:{bound}", f"localhost:{bound}"}
        self.url = f"http://127.0.0.1:{bound}/{self.token}/"
        self._thread: threading.Thread | None = None
        self._draft_json: tuple[str, bytes] | None = None

    def draft_bytes(self) -> bytes:
        """draft.json, made once per version of the draft (15,000 words take a quarter of a second)."""
        with self.lock:
            if self._draft_json is None or self._draft_json[0] != self.session.draft_hash:
                data = json.dumps(draft_to_json(self.session), ensure_ascii=False, separators=(",", ":"))
                self._draft_json = (self.session.draft_hash, data.encode("utf-8"))
            return self._draft_json[1]

    def report(self, line: str) -> None:
        """One line on the terminal for something that went wrong serving a request."""
        print(line, file=sys.stderr, flush=True)

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):  # a tab closed mid-request is normal
            self.report(f"review: a connection failed: {type(error).__name__}")

    def __enter__(self) -> ReviewServer:
        self._thread = threading.Thread(target=self.serve_forever, name="review-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


def _bind(session: ReviewSession, port: int) -> ReviewServer:
    try:
        return ReviewServer(session, port)
    except OSError as e:
        if port == 0:
            raise ReviewError(f"cannot listen on 127.0.0.1: {e.strerror or e}") from None
        return _bind(session, 0)  # the usual port is taken (another review): any free one


def serve(session: ReviewSession, *, port: int, open_browser: bool, announce: Callable[[str], None] = print) -> int:
    """Serve the review page until Ctrl-C; returns the exit status."""
    server = _bind(session, port)
    announce(f"Reviewing {session.page_path.name} at {server.url}  (Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        announce("review stopped")
    finally:
        server.server_close()
    return 0
