"""A local HTTP double of the few Stripe API calls billing makes, on 127.0.0.1.

It answers like Stripe (form-encoded requests, JSON objects) for Checkout Session and
Billing Portal Session creation (and customers, in case one is made first), records every
request, and serves the pages those sessions point to, so a browser can land on them."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs


@dataclass(frozen=True)
class StripeRequest:
    method: str
    path: str
    form: dict[str, str]
    authorization: str


class StripeDouble:
    def __init__(self) -> None:
        self.requests: list[StripeRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _objects(self) -> dict[str, dict]:
        base = self.base_url
        return {
            "/v1/checkout/sessions": {
                "id": "cs_test_1",
                "object": "checkout.session",
                "mode": "subscription",
                "url": f"{base}/checkout/cs_test_1",
            },
            "/v1/billing_portal/sessions": {
                "id": "bps_test_1",
                "object": "billing_portal.session",
                "url": f"{base}/portal/bps_test_1",
            },
            "/v1/customers": {"id": "cus_test_1", "object": "customer"},
        }

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {key: values[-1] for key, values in parse_qs(raw).items()}
                path = self.path.split("?", 1)[0]
                double.requests.append(
                    StripeRequest("POST", path, form, self.headers.get("Authorization", ""))
                )
                found = double._objects().get(path)
                if found is None:
                    error = {"error": {"type": "invalid_request_error", "message": f"no {path}"}}
                    self._send(404, json.dumps(error).encode(), "application/json")
                    return
                body = {**found, **{k: v for k, v in form.items() if "[" not in k}}
                self._send(200, json.dumps(body).encode(), "application/json")

            def do_GET(self) -> None:
                kind, _, session_id = self.path.strip("/").partition("/")
                title = {"checkout": "Checkout", "portal": "Billing portal"}.get(kind)
                if title is None:
                    self._send(404, b"not found", "text/plain")
                    return
                page = f"<!doctype html><title>{title}</title><h1>Stripe double: {title} {session_id}</h1>"
                self._send(200, page.encode(), "text/html; charset=utf-8")

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
