"""The review page's local web server: one page's draft, media and save endpoint, behind a secret token.

- ``ReviewServer(session, port=0)``: binds 127.0.0.1 only; ``.url`` is the page's
  address, ``http://127.0.0.1:PORT/TOKEN/``; ``serve_forever()`` / ``close()``;
  also a context manager that serves in a background thread (the tests).
- ``serve(session, *, port, open_browser, announce=print) -> int``: serve until
  Ctrl-C, printing the URL on one line; returns the exit status (0).

Routes, all under ``/TOKEN/``: ``""`` (the page), ``review.js``, ``review.css``,
``draft.json``, ``audio/N`` (the N-th video's media, with HTTP Range so the
browser can seek), ``save`` (POST JSON ``{"paragraphs": {id: markdown}}``).
Anything else is 404, a wrong or missing token 403, and a Host header other than
this server's 403 (no DNS rebinding). No path from a request ever reaches the disk.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from .review import PageChangedError, ReviewError, ReviewSession, draft_to_json, save_edits

STATIC = {"": ("review.html", "text/html; charset=utf-8"), "review.js": ("review.js", "text/javascript; charset=utf-8")}
STATIC["review.css"] = ("review.css", "text/css; charset=utf-8")
MAX_SAVE_BYTES = 20 * 1024 * 1024  # a 3-hour draft is about 1 MB
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def _static(name: str) -> bytes:
    return resources.files("pipeline").joinpath("review_static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the terminal shows the URL, not every request

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
        elif route.startswith("audio/") and route[6:].isdigit() and int(route[6:]) < len(self.server.session.media):
            source = self.server.session.media[int(route[6:])]
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
            first = int(match.group(1))
            last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        else:  # bytes=-N: the last N bytes
            first, last = max(0, size - int(match.group(2))), size - 1
        return (first, last) if first <= last < size else (-1, -1)

    def _send_file(self, path: Path, content_type: str) -> None:
        size = path.stat().st_size
        span = self._byte_range(size)
        if span == (-1, -1):
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", content_type, {"Content-Range": f"*/{size}"})
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
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_SAVE_BYTES or "json" not in self.headers.get("Content-Type", ""):
            self._send_error(HTTPStatus.BAD_REQUEST, "expected a JSON body")
            return
        try:
            data = json.loads(self.rfile.read(length))
            paragraphs = {int(k): str(v) for k, v in data["paragraphs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            self._send_error(HTTPStatus.BAD_REQUEST, 'expected {"paragraphs": {id: text}}')
            return
        try:
            with self.server.lock:
                draft_hash = save_edits(self.server.session, paragraphs)
        except PageChangedError as e:
            self._send_error(HTTPStatus.CONFLICT, str(e))
        except (ReviewError, OSError, UnicodeDecodeError) as e:
            self._send_error(HTTPStatus.UNPROCESSABLE_ENTITY, " ".join(str(e).split()))
        else:
            self._send_json(HTTPStatus.OK, {"saved": True, "draftHash": draft_hash})


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

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab closed mid-request is normal
            super().handle_error(request, client_address)

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
