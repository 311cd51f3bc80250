"""The real app under a real uvicorn (lifespan included) in a thread, for HTTP and browser tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from api.app import create_app
from contract.settings import Settings
from graph.server import free_port


@contextmanager
def app_url(settings: Settings, clock: Callable[[], float] = time.time) -> Iterator[str]:
    """Serves ``create_app(settings, clock=clock)`` on a free loopback port; yields its URL."""
    port = free_port()
    app = create_app(settings, clock=clock)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
