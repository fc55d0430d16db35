"""The request handler the test servers on 127.0.0.1 share: JSON answers, no access log on stderr."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """Subclass it and write `do_GET`/`do_POST` with `send_json`; `Content-Length` is always set."""

    def send_json(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read what the server recorded instead."""
