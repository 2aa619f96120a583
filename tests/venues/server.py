"""A local HTTP server on 127.0.0.1 that answers like a venue from recorded responses.

Routes map ``(METHOD, path)`` to a JSON body (or a callable ``(query, body) -> (status, body)``, or
one with ``wants_request = True`` called with the whole :class:`Request`: headers, raw query);
every request is recorded (method, path, query, headers) so a test can check what the real ccxt
client sent. ``mode`` switches the whole server to ``"drop"`` (close the connection without a
response) or ``"error"`` (HTTP 500) to play a dead or failing venue.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RECORDED = Path(__file__).resolve().parent / "recorded"

Handler = Callable[[dict[str, list[str]], bytes], tuple[int, Any]]


def recorded(venue: str, name: str) -> Any:
    """A recorded response body of ``venue`` (a JSON file in ``tests/venues/recorded/VENUE``)."""
    return json.loads((RECORDED / venue / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""  # the query string as sent (a signature is computed over it)


@dataclass
class VenueServer:
    """The server's routes, mode and request log; ``url`` once started."""

    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    mode: str = "ok"  # "ok", "drop", "error"
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, path: str, response: Any) -> None:
        self.routes[(method.upper(), path)] = response

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)

    def start(self) -> VenueServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall a request

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body,
                                  parts.query)
                with server.lock:
                    server.requests.append(request)
                    mode = server.mode
                    response = server.routes.get((self.command, parts.path))
                if mode == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "error":
                    status, payload = 500, {"code": -1001, "msg": "Internal error; unable to process your request."}
                elif response is None:
                    status, payload = 404, {"code": -5, "msg": f"no recorded response for {self.command} {parts.path}"}
                elif callable(response) and getattr(response, "wants_request", False):
                    status, payload = response(request)  # a handler that checks headers or the raw query
                elif callable(response):
                    status, payload = response(parse_qs(parts.query), body)
                else:
                    status, payload = 200, response
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
