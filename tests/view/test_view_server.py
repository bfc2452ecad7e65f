"""The viewer's HTTP server as an attacker meets it: headers, path traversal, Host checks, methods, read-only."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from view_runs import HOSTILE_ID, snapshot

from reports.view.server import CSP, STATIC_DIR, static_files

SECRET = "evalkit-view-secret-7f3a9c"


@pytest.fixture(scope="module")
def secret(view_root) -> Path:
    """A file next to the run directories that no request may ever reach."""
    path = view_root / "secret.txt"
    path.write_text(SECRET)
    (view_root / "runs" / "qwen-n8" / "notes.txt").write_text(SECRET)  # inside a run, but not a run file
    return path


def request(server, path: str, method: str = "GET", host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{server.port}" if host is None else host)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_every_response_carries_the_security_headers(server):
    for path in ("/", "/static/app.js", "/static/katex/katex.min.css", "/api/runs", "/api/nothing", "/missing"):
        status, headers, _ = request(server, path)
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in CSP and "unsafe" not in CSP and "default-src 'none'" in CSP
    status, headers, body = request(server, "/api/runs")
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert request(server, "/")[1]["content-type"].startswith("text/html")
    assert request(server, "/static/katex/fonts/KaTeX_Main-Regular.woff2")[1]["content-type"] == "font/woff2"


def test_model_text_leaves_the_server_only_as_json_strings(server):
    path = f"/api/sample?run=qwen-n8&bench=math&problem={quote(HOSTILE_ID, safe='')}&index=0"
    status, headers, body = request(server, path)
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert b"<" not in body  # even inside JSON strings, "<" goes out as \u003c
    assert json.loads(body)["completion"]["text"].startswith("<script>")


TRAVERSALS = [
    "/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py", "/static/katex/../../server.py",
    "/static/katex/fonts/../../../../../../../../etc/passwd", "//etc/passwd", "/static//etc/passwd", "/etc/passwd",
    "/%2e%2e/%2e%2e/secret.txt", "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt", "/static/app.js/../../secret.txt",
    "/static/.hidden", "/static/katex/../../../../../../secret.txt", "/../secret.txt", "/api/../secret.txt",
    "/api/..%2f..%2fsecret.txt", "/runs/qwen-n8/notes.txt", "/qwen-n8/notes.txt", "/static/C:\\secret.txt",
    "/api/sample?run=..%2F..&bench=math&problem=..%2F..%2Fsecret.txt&index=0",
    "/api/sample?run=qwen-n8&bench=math&problem=..%2Fnotes.txt&index=0",
    "/api/sample?run=%2Ftmp&bench=math&problem=x&index=0",
    "/api/field?run=qwen-n8&bench=math&problem=..%2F..%2F..%2Fsecret.txt&index=0&name=completion",
    "/api/field?run=qwen-n8&bench=..%2F..&problem=x&index=0&name=..%2Fnotes.txt",
    "/api/samples?run=qwen-n8&bench=..%2F..%2Fsecret.txt",
    "/api/problem?run=qwen-n8&bench=math&problem=%2Fetc%2Fpasswd",
    "/api/compare?a=qwen-n8&b=..%2Fsecret.txt&bench=math",
    "http://evil.example/static/../secret.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_leaves_the_served_files(server, secret, path):
    status, _, body = request(server, path)
    assert status in (400, 404), (path, status)
    assert SECRET.encode() not in body and b"root:" not in body and b"import " not in body


def test_only_the_shipped_static_files_are_served():
    table = static_files()
    assert set(table) == {f"/static/{p.relative_to(STATIC_DIR).as_posix()}" for p in STATIC_DIR.rglob("*")
                          if p.is_file()}
    assert "/static/app.js" in table and "/static/katex/katex.min.js" in table
    assert all(path.resolve().is_relative_to(STATIC_DIR.resolve()) for path, _ in table.values())


def test_requests_for_another_host_are_refused(server):
    # a page on evil.example that rebinds its name to 127.0.0.1 sends Host: evil.example:<port>
    for host in (f"evil.example:{server.port}", "evil.example", f"127.0.0.1.evil.example:{server.port}", ""):
        status, _, body = request(server, "/api/runs", host=host)
        assert status == 421 and b"ckpt" not in body
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        assert request(server, "/api/runs", host=host)[0] == 200


def test_only_get_and_head_are_answered_and_nothing_is_written(server, view_root, secret):
    before = snapshot(view_root / "runs")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, headers, _ = request(server, "/api/runs", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"
    status, _, body = request(server, "/api/runs", method="HEAD")
    assert status == 200 and body == b""
    for path in ("/api/runs", "/api/samples?run=qwen-n8&bench=math&q=composite&view=problems",
                 f"/api/sample?run=qwen-n8&bench=math&problem={quote(HOSTILE_ID, safe='')}&index=3",
                 "/api/compare?a=ckpt%2Fstep-100&b=ckpt%2Fstep-200&bench=math&cell=only_b"):
        assert request(server, path)[0] == 200
    assert snapshot(view_root / "runs") == before


def test_a_bad_request_is_one_json_line(server):
    status, _, body = request(server, "/api/samples?run=qwen-n8&bench=math&page=abc")
    assert status == 400 and json.loads(body) == {"error": "page must be a whole number (got 'abc')"}
