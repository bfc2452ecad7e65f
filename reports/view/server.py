"""The viewer's HTTP server: the static page, its assets and the JSON API, read-only, on 127.0.0.1.

Why the standard library's `http.server` (ThreadingHTTPServer) and not an ASGI stack (Starlette or
FastAPI with uvicorn): the viewer is one local user reading files, a few dozen requests per page,
each answered from an in-memory index in milliseconds. Threads are enough; async buys nothing. What
the viewer needs from a server is exact control of every response header (the Content-Security-Policy,
nosniff, no caching of data), a fixed allowlist of static files and a refusal of anything but GET and
HEAD, which a hundred lines give directly, with no routing or static-file layer whose path handling
would have to be audited. And it costs no dependency: `evalkit view` works in every evalkit install,
including air-gapped clusters where adding packages is a ticket, and the `view` extra stays empty.

Security (run directories hold model text, which is hostile):
- Nothing from a run is ever sent as HTML: data goes out only as JSON (`application/json`, nosniff),
  and the page puts it into the DOM with `textContent` (see static/app.js). The CSP allows scripts,
  styles and fonts from this server only (no inline script, no eval, no other origin), so even a
  markup bug could not run a sample's script or load anything from elsewhere.
- No request path reaches the filesystem: static files are a table built from the package's static/
  folder at start-up, runs are looked up by id (reports/view/discover.py), and run files are opened by
  fixed names inside their run directory (reports/view/index.py).
- The Host header must name the address served (stops DNS-rebinding pages from reading the API), and
  only GET and HEAD are answered: the server writes nothing, anywhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import mimetypes
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reports.view.api import ApiError, Catalog, answer
from reports.view.discover import RunEntry

STATIC_DIR = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".woff2": "font/woff2", ".png": "image/png", ".svg": "image/svg+xml",
          ".txt": "text/plain; charset=utf-8"}


def static_files(root: Path = STATIC_DIR) -> dict[str, tuple[Path, str]]:
    """URL path -> (file, content type) of every asset shipped in static/ (the only files ever served)."""
    table: dict[str, tuple[Path, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not any(p.startswith(".") for p in path.parts):
            rel = path.relative_to(root).as_posix()
            kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            table[f"/static/{rel}"] = (path, kind)
    return table


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ViewHandler(BaseHTTPRequestHandler):
    server: ViewHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "evalkit-view"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        self._send(status, body.replace("<", "\\u003c").encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        allowed = self.server.allowed_hosts
        return allowed is None or self.headers.get("Host", "").lower() in allowed

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._host_ok():
            self._error(421, "this server answers only requests addressed to the address it serves")
            return
        url = urlsplit(self.path)
        path = url.path
        if path == "/favicon.ico":
            path = "/static/favicon.svg"
        if path in ("/", "/index.html"):
            page, kind = self.server.static["/static/index.html"]
            self._send(200, page.read_bytes(), kind)
            return
        if path.startswith("/api/"):
            params = dict(parse_qsl(url.query, keep_blank_values=True, max_num_fields=64))
            try:
                payload = answer(self.server.catalog, unquote(path[5:]), params)
            except ApiError as exc:
                self._error(exc.status, str(exc))
                return
            except Exception as exc:  # a bug or an unreadable file: the page shows one line, the server lives on
                self._error(500, f"{type(exc).__name__}: {str(exc)[:300]}")
                if self.server.verbose:
                    raise
                return
            self._json(200, payload)
            return
        asset = self.server.static.get(path)
        if asset is None:
            self._error(404, "not found")
            return
        self._send(200, asset[0].read_bytes(), asset[1], cache="max-age=3600")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _refuse(self) -> None:
        self.send_response(405)
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815 - read-only server


class ViewHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], catalog: Catalog, verbose: bool = False) -> None:
        family_v6 = ":" in address[0]
        if family_v6:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, ViewHandler)
        self.catalog = catalog
        self.static = static_files()
        self.verbose = verbose
        host, port = address[0], self.server_address[1]
        names = {host.lower(), "localhost", "127.0.0.1", "[::1]"} if is_loopback(host) else None
        if family_v6 and names is not None:
            names.add(f"[{host}]")
        self.allowed_hosts = None if names is None else {f"{n}:{port}" for n in names}


@dataclass
class RunningServer:
    """A server answering in a background thread (tests and `evalkit view` alike)."""

    httpd: ViewHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        address = self.httpd.server_address[0]
        host = address.decode() if isinstance(address, bytes) else str(address)
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start(entries: list[RunEntry], host: str = "127.0.0.1", port: int = 0, verbose: bool = False,
          warm: bool = True) -> RunningServer:
    """Serve `entries` on host:port (0 = a free port) from a daemon thread; `warm` indexes the runs meanwhile."""
    catalog = Catalog.from_entries(entries)
    httpd = ViewHTTPServer((host, port), catalog, verbose=verbose)
    thread = threading.Thread(target=httpd.serve_forever, name="evalkit-view", daemon=True)
    thread.start()
    if warm:
        threading.Thread(target=_warm, args=(catalog,), name="evalkit-view-index", daemon=True).start()
    return RunningServer(httpd, thread)


def _warm(catalog: Catalog) -> None:
    """Index every evaluation run in the background, so the first page a user opens is ready."""
    for run in catalog.runs.values():
        if run.entry.kind == "eval":
            with contextlib.suppress(Exception):  # the request that needs the index reports the problem
                run.index()
