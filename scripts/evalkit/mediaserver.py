"""A small HTTP server on 127.0.0.1 that serves media files the way a podcast host would.

Used by the tests (real yt-dlp downloads over loopback) and by scripts (batch
benchmarks with a throttle). A plain module: no pytest needed to import it.

    with MediaServer(folder, throttle_bytes_per_s=500_000) as server:
        url = server.url("talk.mp3")
        ...
        assert server.hits["/talk.mp3"] == 2

What it serves:

- ``/<name>``: the file ``root_dir/<name>`` with its Content-Type and
  Content-Length, honouring single ``Range: bytes=a-b`` requests (206), so a
  client can resume a partial download.
- ``/status/<code>``: an empty answer with that HTTP status (404, 403, 429, 500, ...).
- ``/page.html``: an HTML page that holds no media.
- ``/endless/<name>``: the bytes of ``<name>`` over and over, with its Content-Type but no
  Content-Length, as a live or misconfigured stream sends them; the server stops after
  ``ENDLESS_SAFETY_BYTES``, so a client that never stops cannot fill the disk.
- ``/slow/<bytes_per_s>/<name>``: the file ``<name>`` sent at that many bytes per second.

Helpers for failure tests: :meth:`MediaServer.cut_after` drops the connection
after some bytes of a file's body (a killed download), and
``throttle_bytes_per_s`` slows every body down.
"""

from __future__ import annotations

import collections
import mimetypes
import re
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HTML_PAGE = b"""<!doctype html>
<html><head><title>An event page</title></head>
<body><h1>Not media</h1><p>This page holds no audio or video.</p></body></html>
"""

_CHUNK = 16 * 1024
# An endless stream ends here all the same: a test whose client fails to stop it must fail, not fill the disk.
ENDLESS_SAFETY_BYTES = 64 * 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")

# mimetypes lacks some audio types on minimal systems; these are the ones podcast hosts send.
_CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".webm": "audio/webm",
    ".mp4": "video/mp4",
}


class MediaServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) run in a background thread."""

    def __init__(self, root_dir: str | Path, *, throttle_bytes_per_s: int | None = None):
        self.root_dir = Path(root_dir).resolve()
        self.throttle_bytes_per_s = throttle_bytes_per_s
        self.hits: collections.Counter[str] = collections.Counter()  # path -> requests seen
        self.range_requests: dict[str, list[str]] = collections.defaultdict(list)  # path -> Range headers
        self.content_types: dict[str, str] = {}  # name -> Content-Type to send instead of the guess
        self._cuts: dict[str, tuple[int, int | None]] = {}  # path -> (bytes to send before cutting, times left)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MediaServer:
        server = self

        class Handler(_Handler):
            media_server = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="media-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MediaServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests use --------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the media server is not running")
        return self._httpd.server_address[1]

    def url(self, name: str) -> str:
        """The http:// URL of a file under root_dir (or of a special path like ``status/404``)."""
        return f"http://127.0.0.1:{self.port}/{urllib.parse.quote(name.lstrip('/'))}"

    def cut_after(self, name: str, nbytes: int, *, times: int | None = None) -> None:
        """Drop the connection after ``nbytes`` of the body of ``name``: for the next
        ``times`` answers, or until :meth:`clear_cuts` when ``times`` is None."""
        with self._lock:
            self._cuts["/" + name.lstrip("/")] = (nbytes, times)

    def clear_cuts(self) -> None:
        with self._lock:
            self._cuts.clear()

    def serve_as(self, name: str, content_type: str) -> None:
        """Send ``name`` with this Content-Type (e.g. garbage bytes as audio/mpeg)."""
        self.content_types["/" + name.lstrip("/")] = content_type

    def _take_cut(self, path: str) -> int | None:
        with self._lock:
            cut = self._cuts.get(path)
            if not cut:
                return None
            nbytes, times = cut
            if times is not None:
                if times <= 1:
                    del self._cuts[path]
                else:
                    self._cuts[path] = (nbytes, times - 1)
            return nbytes


class _Handler(BaseHTTPRequestHandler):
    media_server: MediaServer  # set on the subclass made by MediaServer.start
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def do_HEAD(self):
        self._answer(send_body=False)

    def do_GET(self):
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        server = self.media_server
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        with server._lock:
            server.hits[path] += 1
            if "Range" in self.headers:
                server.range_requests[path].append(self.headers["Range"])

        status = re.fullmatch(r"/status/(\d{3})", path)
        if status:
            code = int(status.group(1))
            try:
                body = f"{code} {HTTPStatus(code).phrase}\n".encode()
            except ValueError:  # a code with no standard phrase
                body = f"{code}\n".encode()
            self._send_bytes(code, body, "text/plain; charset=utf-8", send_body)
            return
        if path == "/page.html":
            self._send_bytes(200, HTML_PAGE, "text/html; charset=utf-8", send_body)
            return

        endless = re.fullmatch(r"/endless/(.+)", path)
        slow = re.fullmatch(r"/slow/(\d+)/(.+)", path)
        name = endless.group(1) if endless else slow.group(2) if slow else path
        file = (server.root_dir / name.lstrip("/")).resolve()
        if not file.is_relative_to(server.root_dir) or not file.is_file():
            self._send_bytes(404, b"not found\n", "text/plain; charset=utf-8", send_body)
            return
        if endless:
            self._send_endless(path, file, send_body)
        else:
            self._send_file(path, file, send_body, rate=int(slow.group(1)) if slow else None)

    def _content_type(self, path: str, file: Path) -> str:
        content_type = self.media_server.content_types.get(path) or _CONTENT_TYPES.get(file.suffix.lower())
        return content_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"

    def _send_endless(self, path: str, file: Path, send_body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self._content_type(path, file))
        self.send_header("Connection", "close")  # no length: the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        if not send_body:
            return
        data = file.read_bytes()
        sent = 0
        try:
            while sent < ENDLESS_SAFETY_BYTES:
                self.wfile.write(data)
                sent += len(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    def _send_bytes(self, code: int, body: bytes, content_type: str, send_body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_file(self, path: str, file: Path, send_body: bool, rate: int | None = None) -> None:
        server = self.media_server
        size = file.stat().st_size
        content_type = self._content_type(path, file)

        first, last = 0, size - 1
        range_header = self.headers.get("Range")
        if range_header:
            m = _RANGE.match(range_header.strip())
            if not m or (not m.group(1) and not m.group(2)):
                self._send_bytes(416, b"", "text/plain", send_body)
                return
            if m.group(1):
                first = int(m.group(1))
                last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # "bytes=-N": the last N bytes
                first = max(0, size - int(m.group(2)))
            if first >= size or first > last:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        length = last - first + 1

        self.send_response(206 if range_header else 200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if range_header:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if not send_body:
            return

        cut_after = server._take_cut(path)
        budget = length if cut_after is None else min(length, cut_after)
        try:
            sent = self._send_range(file, first, budget, rate or server.throttle_bytes_per_s)
        except (BrokenPipeError, ConnectionResetError):
            # Clients often read the headers only (yt-dlp probes the Content-Type first).
            self.close_connection = True
            return
        if sent < length:
            # A killed download: the client gets fewer bytes than Content-Length promised.
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_range(self, file: Path, first: int, budget: int, rate: int | None) -> int:
        """Send ``budget`` bytes of ``file`` from ``first``, at most ``rate`` bytes per second; the bytes sent."""
        started = time.monotonic()
        sent = 0
        with open(file, "rb") as f:
            f.seek(first)
            while sent < budget:
                chunk = f.read(min(_CHUNK, budget - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
                if rate:
                    # Sleep until the bytes sent so far fit the rate.
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        return sent


if __name__ == "__main__":  # a quick manual check: python tests/mediaserver.py FOLDER
    import sys

    with MediaServer(sys.argv[1] if len(sys.argv) > 1 else ".") as s:
        print(f"serving {s.root_dir} at {s.url('')}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
