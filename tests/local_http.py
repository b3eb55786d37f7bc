"""The lifecycle shared by the local test servers (vendor APIs and LLM APIs).

A :class:`LocalServer` runs a threaded HTTP server on 127.0.0.1 in a daemon thread and
hands every request to its own ``_handle(handler)``. ``stop`` sets ``_stop`` first, so
handlers that simulate a hanging server are released, and remembers the port: after a
stop, the server's URL points at a closed port (a server that is "down").
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: Any


class LocalServer:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._httpd: QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self):
        self._stop.clear()
        self._httpd = QuietServer(("127.0.0.1", self._port or 0), self.handler)
        self._httpd.owner = self
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # release hanging handlers first
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
