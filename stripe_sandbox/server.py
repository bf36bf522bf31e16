"""The sandbox's HTTP server: Django's WSGI handler in a threaded stdlib server.

``serve`` points this process's Django at the sandbox's own URLconf, with
none of the platform's middleware, and puts ``SandboxApp`` in front of it:
that layer hands each request the running ``Sandbox`` and applies the fault
and rate-limit switches to ``/v1/`` requests before Django sees them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from stripe_sandbox.sandbox import ENVIRON_KEY, Sandbox
from stripe_sandbox.services.operation import SandboxConfig
from stripe_sandbox.switches import Fault, FaultMode
from stripe_sandbox.wire import StripeError, api_error, new_id, rate_limited

logger = logging.getLogger(__name__)

API_PREFIX = "/v1/"
WsgiApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


class SandboxHTTPServer(ThreadedWSGIServer):
    # Django's backlog of 10 suits one developer's browser; a pay run opens
    # dozens of connections at once, and a full backlog stalls them in SYN retries.
    request_queue_size = 128


class SandboxApp:
    """WSGI in front of Django: the running sandbox for every request, the switches for /v1/."""

    def __init__(self, django_app: WsgiApp, sandbox: Sandbox) -> None:
        self._django_app = django_app
        self._sandbox = sandbox

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        environ[ENVIRON_KEY] = self._sandbox
        # The switches act on Stripe's API only: the control API and the
        # hosted pages must keep working while a test breaks the API.
        if not environ.get("PATH_INFO", "").startswith(API_PREFIX):
            return self._django_app(environ, start_response)
        switches = self._sandbox.switches
        if not switches.admit():
            return _error_response(start_response, rate_limited())
        fault = switches.take_fault()
        if fault is None:
            return self._django_app(environ, start_response)
        return self._fail(fault, environ, start_response)

    def _fail(
        self, fault: Fault, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        if fault.mode is FaultMode.LOST_RESPONSE:
            self._run_and_discard(environ)
        # Holding longer than the client waits makes it give up: a timeout.
        time.sleep(fault.hold_seconds)
        message = {
            FaultMode.ERROR: "The sandbox failed this request on purpose (fault switch).",
            FaultMode.TIMEOUT: "The sandbox held this request and did not run it (fault switch).",
            FaultMode.LOST_RESPONSE: "The sandbox ran this request, then held its answer "
            "(fault switch); retry with the same Idempotency-Key to get it.",
        }[fault.mode]
        logger.info(
            "Fault switch: %s %s -> %s", environ["REQUEST_METHOD"], environ["PATH_INFO"], fault
        )
        return _error_response(start_response, api_error(message))

    def _run_and_discard(self, environ: dict[str, Any]) -> None:
        def discard_start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            return lambda data: None

        result = self._django_app(environ, discard_start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def _error_response(start_response: Callable, error: StripeError) -> list[bytes]:
    body = json.dumps(error.body(), indent=2).encode()
    reason = {429: "Too Many Requests", 500: "Internal Server Error"}.get(error.status, "Error")
    start_response(
        f"{error.status} {reason}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Request-Id", new_id("req_", 14)),
        ],
    )
    return [body]


def _route_django_to_sandbox() -> None:
    """This process serves the sandbox only.

    Its own URLconf, and none of the platform's middleware: sessions, auth
    and the staff two-factor check would read the platform's database
    (browsers send the platform's cookies to any port of 127.0.0.1).
    """
    settings.ROOT_URLCONF = "stripe_sandbox.urls"
    settings.MIDDLEWARE = []
    # 4xx answers are the API's daily business (a 404 for an unknown id, a
    # 402 decline); the access log already shows them, once.
    logging.getLogger("django.request").setLevel(logging.ERROR)


def _public_base_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server, for the hosted pages' URLs."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    *,
    host: str,
    port: int,
    state_path: Path,
    webhook_url: str,
    webhook_secret: str,
    on_ready: Callable[[str], None],
) -> None:
    """Serve until interrupted; ``on_ready`` gets the base URL once the port is bound."""
    _route_django_to_sandbox()
    server = SandboxHTTPServer((host, port), WSGIRequestHandler, ipv6=":" in host)
    base_url = _public_base_url(host, server.server_port)
    sandbox = Sandbox(
        config=SandboxConfig(
            base_url=base_url, webhook_url=webhook_url, webhook_secret=webhook_secret
        ),
        state_path=state_path,
    )
    server.set_app(SandboxApp(WSGIHandler(), sandbox))
    sandbox.start()
    on_ready(base_url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        sandbox.stop()
