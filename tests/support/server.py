"""Run the real app under uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from srs.app import create_app
from srs.kit.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(settings: Settings) -> Iterator[tuple[str, object]]:
    """Yields (base_url, app); the app's lifespan (worker, ticker) runs as in `srs serve`."""
    app = create_app(settings)
    port = free_port()
    # An idle connection outlives httpx's own 5 s keep-alive expiry (uvicorn's default is also
    # 5 s): at an equal limit the server could close a connection as the client reused it, a
    # "connection reset" a browser retries but a test client does not (seen once in CI).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=15)
