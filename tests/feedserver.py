"""A local feed server for the tests: StopNCII, ThreatExchange and plain files over real
HTTP on 127.0.0.1, with paging, deletions, throttling and scripted failures.

It speaks the wire formats the adapters speak to the real services (python-threatexchange's
StopNCII client; the Graph API's `threat_updates`), checks credentials, and records every
request, so tests can see what hashwall sent and when.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

SUBSCRIPTION_KEY = "test-subscription"
FETCH_KEY = "test-fetch"
FEEDBACK_KEY = "test-feedback"
TE_TOKEN = "test-token"


@dataclass
class Fault:
    """What the server does instead of answering one request."""

    status: int = 500
    retry_after: str | None = None
    body: bytes = b'{"error": "scripted"}'
    delay: float = 0.0  # seconds to stall first (a timeout, if longer than the client's)


@dataclass
class FeedState:
    """What the server holds; tests change it between syncs."""

    stopncii: list[dict[str, Any]] = field(default_factory=list)
    threat_updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name: (body, etag)
    faults: list[tuple[str, Fault]] = field(default_factory=list)  # (path prefix, fault)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, path: str, *faults: Fault) -> None:
        """Answer the next requests whose path starts with `path` with these faults."""
        with self.lock:
            self.faults.extend((path, fault) for fault in faults)

    def stopncii_record(
        self,
        value: str,
        status: str = "Active",
        timestamp: int | None = None,
        kind: str = "ImagePDQ",
        feedback: list[str] | None = None,
    ) -> None:
        """Add (or supersede) a StopNCII hash record, with other platforms' `feedback`."""
        with self.lock:
            stamp = timestamp if timestamp is not None else 1000 + len(self.stopncii)
            self.stopncii.append(
                {
                    "lastModtimestamp": stamp,
                    "signalType": kind,
                    "hashValue": value,
                    "hashStatus": status,
                    "caseNumbers": {f"case-{len(self.stopncii)}": status},
                    "CSPFeedbacks": [
                        {"feedbackValue": value, "tags": [], "source": f"csp-{n}"}
                        for n, value in enumerate(feedback or [])
                    ],
                }
            )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `state.requests` instead."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode())

    def _fault(self, path: str) -> bool:
        state = self.server.state
        with state.lock:
            for position, (prefix, _) in enumerate(state.faults):
                if path.startswith(prefix):
                    fault = state.faults.pop(position)[1]
                    break
            else:
                return False
        time.sleep(fault.delay)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self._send(fault.status, fault.body, headers)
        return True

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        state = self.server.state
        with state.lock:
            state.requests.append((url.path, query))
        if self._fault(url.path):
            return
        if url.path.endswith("/FetchHashes"):
            self._fetch_hashes(query)
        elif url.path.endswith("/threat_updates/"):
            self._threat_updates(query)
        elif url.path.startswith("/files/"):
            name = url.path.removeprefix("/files/")
            if name not in state.files:
                self._send(404, b"{}")
                return
            body, etag = state.files[name]
            self._send(200, body, {"ETag": etag})
        else:
            self._send(404, b"{}")

    def do_POST(self) -> None:
        url = urlparse(self.path)
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with state.lock:
            state.requests.append((url.path, {}))
        if self._fault(url.path):
            return
        if not url.path.endswith("/SubmitFeedback"):
            self._send(404, b"{}")
            return
        if not self._stopncii_keys(FEEDBACK_KEY):
            return
        with state.lock:
            state.feedback.extend(body["hashFeedbacks"])
        self._json({"count": body["count"]})

    def _stopncii_keys(self, function_key: str) -> bool:
        if (
            self.headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY
            or self.headers.get("x-functions-key") != function_key
        ):
            self._send(401, b'{"error": "invalid keys"}')
            return False
        return True

    def _fetch_hashes(self, query: dict[str, list[str]]) -> None:
        if not self._stopncii_keys(FETCH_KEY):
            return
        start = int(query["startTimestamp"][0])
        size = int(query["pageSize"][0])
        offset = int(query.get("nextPageToken", ["0"])[0].removeprefix("page-"))
        with self.server.state.lock:
            run = sorted(
                (r for r in self.server.state.stopncii if r["lastModtimestamp"] >= start),
                key=lambda r: r["lastModtimestamp"],
            )
        page = run[offset : offset + size]
        more = offset + size < len(run)
        self._json(
            {
                "count": len(page),
                "nextPageToken": f"page-{offset + size}" if more else None,
                "nextSetTimestamp": (run[-1]["lastModtimestamp"] + 1) if run else start,
                "hasMoreRecords": more,
                "hashRecords": page,
            }
        )

    def _threat_updates(self, query: dict[str, list[str]]) -> None:
        if query.get("access_token") != [TE_TOKEN]:
            self._send(400, b'{"error": {"message": "Invalid OAuth access token"}}')
            return
        start = int(query.get("start_time", ["0"])[0])
        limit = int(query["limit"][0])
        offset = int(query.get("after", ["0"])[0])
        with self.server.state.lock:
            run = sorted(
                (u for u in self.server.state.threat_updates if u["last_updated"] >= start),
                key=lambda u: u["last_updated"],
            )
        page = run[offset : offset + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(offset), "after": str(offset + limit)}}
        if offset + limit < len(run):
            paging["next"] = f"{self.path}&after={offset + limit}"
        self._json({"data": page, "paging": paging})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FeedState


@contextmanager
def feed_server() -> Iterator[tuple[str, FeedState]]:
    """(base URL, state) of a feed server running on a free port until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = FeedState()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.state
    finally:
        server.shutdown()
        server.server_close()
