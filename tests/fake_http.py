"""A fake of SageMaker's container contract on a free local port, for the tests of clients that POST to it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: (path, body, Content-Type, Accept) -> (status, body) of the answer.
Answer = Callable[[str, bytes, str, str], tuple[int, bytes]]


@contextmanager
def fake_http_endpoint(answer: Answer) -> Iterator[str]:
    """``http://127.0.0.1:<port>``, answering every POST with ``answer``, for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, reply = answer(self.path, body, self.headers["Content-Type"], self.headers["Accept"])
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
