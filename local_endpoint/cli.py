"""The command line: ``python -m local_endpoint`` (``make local-endpoint``) serves a locally registered model version.

It finds the version in the local model registry that ``make local-pipeline`` writes (default: the newest version
of the only group), unpacks its ``model.tar.gz``, loads it with the package's own ``model_fn`` and serves SageMaker's
container contract on 127.0.0.1 (:mod:`local_endpoint.server`) until Ctrl-C. It prints one line, where it listens,
and logs the smoke-test command for this version. Exit status: 0 stopped with Ctrl-C, 2 it could not start (the
message says why: no workspace, registry, group or version, an unreadable archive, a port in use).

With ``--capture-dir DIR`` it also captures every answered invocation as SageMaker's data capture does
(:mod:`local_endpoint.capture`): ``DIR/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``, laid out like the capture
bucket's ``endpoints/`` prefix, so that ``DIR`` can be ``<local AWS root>/s3/<capture bucket>/endpoints``.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import shlex
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from local_endpoint.capture import DEFAULT_VARIANT, CaptureError, CaptureLocation, CaptureWriter, check_name
from local_endpoint.package import EndpointError, LoadedModel, RegisteredVersion, find_version, load_model
from local_endpoint.server import EndpointServer

logger = logging.getLogger(__name__)
PROG = "python -m local_endpoint"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a model version of the local model registry with SageMaker's container contract "
        "(GET /ping, POST /invocations with text/csv or application/json) and the package's own inference handlers. "
        "Exit status: 0 stopped with Ctrl-C, 2 it could not start.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path(".local-pipeline"),
        help="the local pipeline's workspace: registry/ and s3/ (default: .local-pipeline)",
    )
    parser.add_argument("--group", help="model package group (default: the only group in the registry)")
    parser.add_argument("--version", type=_positive, help="version to serve (default: the group's newest)")
    parser.add_argument("--port", type=_port, default=8080, help="port (default: 8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--capture-dir",
        type=Path,
        help="capture every answered invocation as SageMaker's data capture does, under "
        "DIR/<endpoint>/<variant>/yyyy/mm/dd/hh/ (default: no capture)",
    )
    parser.add_argument(
        "--endpoint-name",
        type=_name("endpoint name"),
        help="the endpoint's folder in the capture (default: <group>-endpoint); needs --capture-dir",
    )
    parser.add_argument(
        "--variant",
        type=_name("variant name"),
        help=f"the variant's folder in the capture (default: {DEFAULT_VARIANT}); needs --capture-dir",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    return parser


def _name(what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            return check_name(text, what)
        except CaptureError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return check


def default_endpoint_name(group: str) -> str:
    """The capture's endpoint folder when none is given: the group's, as the environments name theirs
    (``<project>-<env>-endpoint``) next to their groups (``<project>-<env>-<model>``)."""
    return f"{group[: 63 - len('-endpoint')].rstrip('-')}-endpoint"


def capture_writer(
    capture_dir: Path, version: RegisteredVersion, endpoint_name: str | None = None, variant: str | None = None
) -> CaptureWriter:
    """The writer of this version's capture; a name that cannot be a folder is an EndpointError."""
    try:
        location = CaptureLocation(
            capture_dir, endpoint_name or default_endpoint_name(version.group), variant or DEFAULT_VARIANT
        )
    except CaptureError as exc:
        raise EndpointError(str(exc)) from None
    if capture_dir.exists() and not capture_dir.is_dir():
        raise EndpointError(f"--capture-dir {capture_dir} is not a folder")
    return CaptureWriter(location)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a version number (1, 2, ...), got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def bind(host: str, port: int) -> EndpointServer:
    """The server, bound (not yet serving, no model yet); a port in use or an address that cannot be bound is an
    EndpointError."""
    try:
        return EndpointServer((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise EndpointError(
                f"port {port} on {host} is in use: stop what uses it, or pick another with --port"
            ) from None
        raise EndpointError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@contextmanager
def serving(
    workspace: Path,
    *,
    group: str | None = None,
    version: int | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    capture_dir: Path | None = None,
    endpoint_name: str | None = None,
    variant: str | None = None,
) -> Iterator[EndpointServer]:
    """A running endpoint in a background thread (for tests and tools); stopped and cleaned up on exit. With
    ``capture_dir`` it captures its traffic there (``server.capture``)."""
    server = bind(host, port)
    try:
        registered = find_version(workspace, group, version)
        if capture_dir is not None:
            server.capture = capture_writer(capture_dir, registered, endpoint_name, variant)
        loaded = load_model(registered)
    except BaseException:
        server.server_close()
        raise
    server.loaded = loaded
    try:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="local-endpoint", daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    finally:
        loaded.close()
        if server.capture is not None:
            server.capture.close()


def smoke_test_command(loaded: LoadedModel, url: str) -> str | None:
    """The ``tools.smoke_test`` command line for this version, when its test rows are in the local S3."""
    version = loaded.version
    threshold = version.metadata.get("decision_threshold")
    if version.test_data is None or threshold is None:
        return None
    return shlex.join(
        [
            *("python", "-m", "tools.smoke_test", "--local-url", url),
            *("--test-data", str(version.test_data), "--threshold", threshold),
            *("--model-archive", str(version.model_data)),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already on stderr)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args.capture_dir is None and (args.endpoint_name is not None or args.variant is not None):
        sys.stderr.write(f"{PROG}: error: --endpoint-name and --variant name capture folders: add --capture-dir\n")
        return 2
    try:
        version = find_version(args.workspace, args.group, args.version)
        writer = None
        if args.capture_dir is not None:
            writer = capture_writer(args.capture_dir, version, args.endpoint_name, args.variant)
        server = bind(args.host, args.port)
    except EndpointError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    server.capture = writer
    if writer is not None:
        logger.info("capturing answered invocations under %s", writer.location.folder)
    try:
        logger.info(
            "model package %s version %d (%s, %s), archive %s",
            version.group,
            version.version,
            version.entry.get("ModelApprovalStatus", "no approval status"),
            version.entry_path,
            version.model_data,
        )
        server.loaded = loaded = load_model(version)
    except EndpointError as exc:
        server.server_close()
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the model loads
        server.server_close()
        return 130
    if not _is_loopback(args.host):
        logger.warning(
            "listening on %s: the endpoint has no authentication; anyone who can reach it can call it", args.host
        )
    command = smoke_test_command(loaded, server.url)
    if command is not None:
        logger.info("smoke test: %s", command)
    # the one line on stdout (the rest is logging): where it listens
    where = f"serving {version.group} version {version.version} on {server.url}: GET /ping, POST /invocations"
    sys.stdout.write(f"{where}; Ctrl-C stops it\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
        loaded.close()
        if writer is not None:
            writer.close()
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
