"""The `drgate serve` worker the HTTP front's tests talk to (``tests/test_front.py``,
``tests/test_front_writes.py``): small limits, no snapshot (checks answer ``unverified``), and
the raw socket helpers they send and read with."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fault_servers import free_port, wait_answering

__all__ = ["CLAIM", "LIMITS", "Served", "answer_of", "connect", "fix_served", "request_head"]

CLAIM = (b'{"claim_id":"C-1","institution_code":"H33080200001","service_date":"2026-03-02",'
         b'"lines":[{"line_id":"1","physician_code":"D330802000001"}]}')
LIMITS = {"DRGATE_HEADER_TIMEOUT": "1", "DRGATE_BODY_TIMEOUT": "1.5", "DRGATE_MAX_CONNECTIONS": "300",
          "DRGATE_MAX_HEADER_BYTES": "8192", "DRGATE_BODY_BUFFER_BYTES": str(4 << 20), "DRGATE_KEEP_ALIVE_TIMEOUT": "2"}


@dataclass
class Served:
    port: int
    pid: int


@pytest.fixture(scope="module", name="served")
def fix_served(redis_url: str) -> Iterator[Served]:
    """One `drgate serve` worker with small limits (no snapshot needed: checks answer ``unverified``)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as var, tempfile.TemporaryFile() as log:
        env = {**os.environ, **LIMITS, "DRGATE_REDIS_URL": redis_url,
               "DRGATE_REDIS_PREFIX": f"drgate-test-{uuid.uuid4().hex[:12]}",
               "DRGATE_STORE_URL": f"sqlite:///{var}/store.db", "DRGATE_VAR_DIR": var}
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_answering(f"http://127.0.0.1:{port}/healthz", process, lambda: log.seek(0) or log.read().decode(),
                           "drgate serve did not start")
            yield Served(port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def request_head(length: int, extra: bytes = b"") -> bytes:
    return (b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n%s\r\n" % (length, extra))


def answer_of(sock: socket.socket) -> bytes:
    """What the server sends until it closes (or 10 s pass)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


