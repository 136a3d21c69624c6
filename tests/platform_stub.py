"""A stand-in for the national platform: a real HTTP server on a free loopback port (http.server,
a thread) that records what it was sent and answers as told: a body, a status, a delay, or not at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Platform:
    url: str
    answer: bytes = b'{"infcode":0,"inf_refmsgid":"330802202612011029000000000001","output":{"result":[]}}'
    status: int = 200
    delay: float = 0.0
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)


@contextmanager
def platform() -> Iterator[Platform]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    stub = Platform(f"http://127.0.0.1:{server.server_address[1]}/fsi/api")
    server.stub = stub  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="platform-stub", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        stub: Platform = self.server.stub  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        stub.received.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
        if stub.delay:
            time.sleep(stub.delay)
        self.send_response(stub.status)
        self.send_header("content-type", "application/json;charset=UTF-8")
        self.send_header("x-request-id", "platform-trace-1")
        self.send_header("content-length", str(len(stub.answer)))
        self.end_headers()
        self.wfile.write(stub.answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass
