"""SageMaker's inference container contract over HTTP, served by the standard library's ThreadingHTTPServer.

- ``GET /ping``: 200 with an empty body once ``model_fn`` has loaded the model, 503 before (the port is bound first, so
  that a port in use is reported before the model loads).
- ``POST /invocations``: the body, ``Content-Type`` and ``Accept`` go to the package's ``transform_fn`` unchanged, and
  its (body, content type) is the answer. A request it refuses raises the package's ``InvalidInputError`` (outside a
  Flask request the handler raises instead of building a Flask response: see ``transform_fn``); it is answered with
  that error's status (400, 415, 406) and the JSON body the container's Flask worker sends,
  ``{"error": "InvalidInputError", "error-message": "..."}``. Anything else the handler raises is a 500, logged with
  its traceback, as in the container.
- Bodies above 6 MB (InvokeEndpoint's payload limit) get 413; other paths 404 (both with a JSON error body).
- With a :class:`~local_endpoint.capture.CaptureWriter` (``--capture-dir``), every answered invocation (200) is
  captured as SageMaker's data capture records it, with the ``X-Amzn-SageMaker-Inference-Id`` header as its
  inference id; a capture that fails is logged and the answer still goes out, as capture never fails an invocation.

Flask is not needed: the handlers are plain functions, and http.server speaks enough HTTP/1.1 for the contract.
Requests run on threads; XGBoost's prediction is thread-safe.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local_endpoint import capture as data_capture
from local_endpoint.capture import CaptureWriter
from local_endpoint.package import LoadedModel

logger = logging.getLogger(__name__)

#: InvokeEndpoint's largest request payload (real-time endpoints), in bytes.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class EndpointServer(ThreadingHTTPServer):
    """The HTTP server of one loaded model."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], loaded: LoadedModel | None = None, capture: CaptureWriter | None = None
    ) -> None:
        self.loaded = loaded
        self.capture = capture
        super().__init__(address, InvocationHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class InvocationHandler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ping":
            if self.server.loaded is None:
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "NotReady", "the model is loading")
            else:
                self._send(HTTPStatus.OK, b"", None)
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {self.path}: GET /ping, POST /invocations")

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_PAYLOAD_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot carry another request
            status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0 else HTTPStatus.BAD_REQUEST
            self._error(
                status, "InvalidRequest", f"Content-Length {length_header!r}: at most {MAX_PAYLOAD_BYTES} bytes"
            )
            return
        body = self.rfile.read(length)
        if path != "/invocations":
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {self.path}: GET /ping, POST /invocations")
            return
        self._invoke(body)

    def _invoke(self, body: bytes) -> None:
        loaded = self.server.loaded
        if loaded is None:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "NotReady", "the model is loading")
            return
        inference_time = data_capture.now()  # the request's time, as SageMaker's inferenceTime
        content_type = self.headers.get("Content-Type", "")
        accept = self.headers.get("Accept", "")
        try:
            answer = loaded.handlers.transform_fn(loaded.model, body, content_type, accept)
        except loaded.handlers.InvalidInputError as error:
            logger.warning("rejected a request (%d): %s", error.status_code, error.message)
            self._error(HTTPStatus(error.status_code), type(error).__name__, error.message)
            return
        except Exception as error:
            logger.exception("transform_fn failed")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, type(error).__name__, str(error))
            return
        text, response_type = answer
        output = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        # captured before the answer goes out: whoever got the answer finds its record in the file
        self._capture(body, content_type, output, response_type, inference_time)
        self._send(HTTPStatus.OK, output, response_type)

    def _capture(self, body: bytes, content_type: str, output: bytes, output_type: str, when: datetime) -> None:
        writer = self.server.capture
        if writer is None:
            return
        try:
            writer.write(
                input_body=body,
                input_type=content_type,
                output_body=output,
                output_type=output_type,
                inference_time=when,
                inference_id=self.headers.get(data_capture.INFERENCE_ID_HEADER),
            )
        except Exception:
            logger.exception("data capture failed (the request was answered)")

    def _error(self, status: HTTPStatus, error: str, message: str) -> None:
        body = json.dumps({"error": error, "error-message": message}).encode()
        self._send(status, body, "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
