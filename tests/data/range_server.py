"""A local HTTP server for download tests: serves byte strings, with HTTP Range support.

`drop_after` makes the first request of a path send only that many bytes of the body (while
announcing the full length) and close the connection, as a broken transfer does.
"""

from __future__ import annotations

import http.server
import re
import threading
from dataclasses import dataclass, field


@dataclass
class Behaviour:
    files: dict[str, bytes] = field(default_factory=dict)
    drop_after: int | None = None
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802
        b = self.behaviour
        range_header = self.headers.get("Range")
        first = not any(p == self.path for p, _ in b.requests)
        b.requests.append((self.path, range_header))
        body = b.files.get(self.path)
        if body is None:
            self.send_error(404)
            return

        # Range: bytes=N- (the only form a resuming client sends)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and not b.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

        # a broken first transfer: part of the body, then the connection closes
        if first and b.drop_after is not None:
            self.wfile.write(payload[: b.drop_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


class RangeServer:
    """Context manager: `with RangeServer({"/a.zip": data}) as s: s.url("/a.zip")`."""

    def __init__(self, files: dict[str, bytes], **behaviour: object) -> None:
        self.behaviour = Behaviour(files=dict(files), **behaviour)  # type: ignore[arg-type]
        handler = type("Handler", (_Handler,), {"behaviour": self.behaviour})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        return self.behaviour.requests

    def __enter__(self) -> RangeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
