"""A local HTTP double of the parts of Stripe's API the service calls, on 127.0.0.1.

The official `stripe` library is pointed at it with SRS_STRIPE_API_BASE. It records each
request (path, form fields, headers) and answers like Stripe: a Checkout session or a
portal session with a `url` (pointing back at the double, which serves a page there, so a
browser can land on it), a meter event. `fail_next(status)` makes the next answer an error,
as Stripe would send it.

    with StripeDouble() as stripe_api:
        settings = make_settings(..., stripe_api_key="sk_test_x", stripe_api_base=stripe_api.base_url)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qsl

@dataclass(frozen=True)
class StripeRequest:
    method: str
    path: str
    form: dict[str, str]  # Stripe's bracketed form fields, e.g. "line_items[0][price]"
    headers: dict[str, str]


class StripeDouble:
    def __init__(self) -> None:
        self.requests: list[StripeRequest] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._failures.extend(statuses)

    @property
    def checkout_url(self) -> str:
        """Where the Checkout sessions it makes send the browser (followed by the session id)."""
        return f"{self.base_url}/checkout/"

    @property
    def portal_url(self) -> str:
        return f"{self.base_url}/portal/"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, request: StripeRequest) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(request)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            kind = "rate_limit_error" if failure == 429 else "invalid_request_error"
            if failure >= 500:
                kind = "api_error"
            return failure, {"error": {"type": kind, "message": f"scripted {failure}"}}
        number = len(self.requests)
        if request.path == "/v1/checkout/sessions":
            session_id = f"cs_test_{number}"
            return 200, {"id": session_id, "object": "checkout.session",
                         "url": self.checkout_url + session_id, "mode": request.form.get("mode")}
        if request.path == "/v1/billing_portal/sessions":
            session_id = f"bps_test_{number}"
            return 200, {"id": session_id, "object": "billing_portal.session",
                         "url": self.portal_url + session_id, "customer": request.form.get("customer")}
        if request.path == "/v1/billing/meter_events":
            return 200, {"object": "billing.meter_event", "identifier": request.form.get("identifier")}
        return 404, {"error": {"type": "invalid_request_error", "message": "no such path"}}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                request = StripeRequest(
                    "POST", self.path, dict(parse_qsl(body, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                status, payload = double._answer(request)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", f"req_{len(double.requests)}")
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                kind, _, session_id = self.path.strip("/").partition("/")
                title = {"checkout": "Checkout", "portal": "Billing portal"}.get(kind)
                status = 200 if title else 404
                page = f"<!doctype html><title>{title}</title><h1>Stripe double: {title} {session_id}</h1>"
                raw = page.encode() if title else b"not found"
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass  # quiet test output

        return Handler
