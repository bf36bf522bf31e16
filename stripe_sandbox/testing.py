"""Helpers for tests: the sandbox as a subprocess, its switches and hosted pages, and a webhook receiver.

    with WebhookReceiver() as receiver, running_sandbox(
        directory=tmp_path, webhook_url=receiver.url
    ) as sandbox:
        settings.STRIPE_SANDBOX_URL = sandbox.url
        client = stripe_client()
        ...
        sandbox.fail_next(2)                    # the next two /v1/ requests answer 500
        complete_onboarding(account_link.url)   # clicks "Complete onboarding"
        receiver.wait_for("account.updated")

Each sandbox gets a free port and its own state file in ``directory`` (a
temporary one by default); its output goes to ``stripe-sandbox.log`` there,
and the last lines of it into the error when it fails to start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings

from payouts.stripe_api import SANDBOX_WEBHOOK_SECRET
from stripe_sandbox.management.commands.stripe_sandbox import READY_MESSAGE

STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
CONTROL_TIMEOUT_SECONDS = 10.0
_READY_LINE = re.compile(re.escape(READY_MESSAGE) + r" (\S+)")


class SandboxProcess:
    """``python manage.py stripe_sandbox`` in a subprocess, and its ``/_sandbox/`` control API."""

    def __init__(
        self,
        *,
        directory: Path,
        webhook_url: str = "",
        webhook_secret: str = SANDBOX_WEBHOOK_SECRET,
    ) -> None:
        self.state_path = directory / "stripe-sandbox.sqlite3"
        self.log_path = directory / "stripe-sandbox.log"
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.url = ""
        self._process: subprocess.Popen | None = None
        self._http = requests.Session()

    # --- Process --------------------------------------------------------------

    def start(self, *, port: int = 0) -> SandboxProcess:
        """Start and wait until it answers; port 0 lets the sandbox pick a free one."""
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(port),
                cwd=settings.BASE_DIR,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = self._wait_for_ready_url(log_offset)
        self._wait_until_answering()
        return self

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable,
            "manage.py",
            "stripe_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state",
            str(self.state_path),
            "--webhook-url",
            self.webhook_url,
        ]

    def _environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            # The sandbox signs with this secret whatever the developer's shell says.
            "STRIPE_SECRET_KEY": "",
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    def _wait_for_ready_url(self, log_offset: int) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(log_offset)
                match = _READY_LINE.search(log.read().decode(errors="replace"))
            if match:
                return match.group(1)
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"The sandbox exited at start:\n{self.log_tail()}")
            time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"The sandbox did not start in time:\n{self.log_tail()}")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if self._http.get(f"{self.url}/_sandbox/health", timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"The sandbox does not answer at {self.url}:\n{self.log_tail()}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, *, kill: bool = False) -> None:
        """Stop it: SIGTERM (a clean shutdown), or SIGKILL to prove the state file needs none."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, *, kill: bool = False) -> SandboxProcess:
        """Stop and start again on the same port and state file."""
        port = self.port
        self.stop(kill=kill)
        self._http.close()  # pooled connections point at the old process
        return self.start(port=port)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # --- Switches (the /_sandbox/ control API) ------------------------------------

    def _control(
        self,
        method: str,
        name: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float = CONTROL_TIMEOUT_SECONDS,
    ) -> Any:
        response = self._http.request(
            method, f"{self.url}/_sandbox/{name}", json=body, timeout=timeout
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget every object, event and delivery, and turn every switch off."""
        self._control("POST", "reset")

    def fail_next(
        self, count: int = 1, *, mode: str = "error", hold_seconds: float | None = None
    ) -> None:
        """The next ``count`` API requests fail: ``error`` (500 at once), ``timeout`` (held
        ``hold_seconds``, never run) or ``lost_response`` (run, then held: the answer is lost)."""
        body: dict[str, Any] = {"mode": mode, "count": count}
        if hold_seconds is not None:
            body["hold_seconds"] = hold_seconds
        self._control("POST", "faults", body)

    def seed(
        self, *, onboarded_accounts: int = 0, platform_funds: tuple[str, int] | None = None
    ) -> list[str]:
        """Onboarded Express accounts and platform funds in one call; the new account ids."""
        body: dict[str, Any] = {"onboarded_accounts": onboarded_accounts}
        if platform_funds is not None:
            body["platform_funds"] = {"currency": platform_funds[0], "amount": platform_funds[1]}
        # Thousands of accounts take a few seconds to write.
        return self._control("POST", "seed", body, timeout=300)["accounts"]

    def rate_limit(self, per_second: int | None) -> None:
        """Answer 429 past ``per_second`` API requests in any second (None: no limit)."""
        self._control("POST", "rate_limit", {"per_second": per_second})

    def webhooks(self, *, duplicate: bool = False, out_of_order_batch: int = 0) -> None:
        """Send each webhook twice; hold deliveries until ``out_of_order_batch`` are due and
        send them newest first. Call with no arguments to go back to normal."""
        self._control(
            "POST", "webhooks", {"duplicate": duplicate, "out_of_order_batch": out_of_order_batch}
        )

    def switches(self) -> dict[str, Any]:
        return self._control("GET", "switches")

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """The latest deliveries, newest first: event, status, attempts, last answer."""
        return self._control("GET", "webhook_deliveries")["data"]

    def wait_for_delivery(self, event_id: str, status: str, *, timeout: float = 10.0) -> dict:
        """The delivery of ``event_id`` once it has ``status``.

        The sandbox records an attempt's outcome after the receiver has
        answered, so a test that has just seen the webhook arrive may read the
        delivery a moment before its status changes.
        """
        deadline = time.monotonic() + timeout
        while True:
            delivery = next(
                (d for d in self.webhook_deliveries() if d["event_id"] == event_id), None
            )
            if delivery is not None and delivery["status"] == status:
                return delivery
            if time.monotonic() >= deadline:
                raise AssertionError(f"Delivery of {event_id} is {delivery}, not {status}")
            time.sleep(0.05)


@contextlib.contextmanager
def running_sandbox(
    *,
    directory: Path | None = None,
    webhook_url: str = "",
    webhook_secret: str = SANDBOX_WEBHOOK_SECRET,
) -> Iterator[SandboxProcess]:
    """A started sandbox, stopped on exit; without ``directory``, in a temporary one."""
    with contextlib.ExitStack() as cleanup:
        if directory is None:
            directory = Path(
                cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stripe-sandbox-"))
            )
        sandbox = SandboxProcess(
            directory=directory, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        sandbox.start()
        cleanup.callback(sandbox.stop)
        yield sandbox


# --- The hosted pages, driven by plain HTTP --------------------------------------------


@dataclass(frozen=True)
class HtmlForm:
    action: str
    method: str
    fields: dict[str, str]
    buttons: dict[str, tuple[str, str]]  # visible text -> (name, value)


class _FormParser(HTMLParser):
    """The first form of a page: its action, inputs and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.form: HtmlForm | None = None
        self._button: dict[str, str] | None = None
        self._button_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.form is None:
            self.form = HtmlForm(
                action=attributes.get("action", ""),
                method=attributes.get("method", "get").lower(),
                fields={},
                buttons={},
            )
        elif self.form is not None and tag == "input" and attributes.get("name"):
            self.form.fields[attributes["name"]] = attributes.get("value", "")
        elif self.form is not None and tag == "button":
            self._button, self._button_text = attributes, []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.form is not None:
            text = " ".join("".join(self._button_text).split())
            self.form.buttons[text] = (self._button.get("name", ""), self._button.get("value", ""))
            self._button = None


def submit_hosted_form(
    page_url: str,
    *,
    button: str,
    fields: dict[str, str] | None = None,
    http: requests.Session | None = None,
) -> requests.Response:
    """Open a hosted page, fill its form, and click the button whose text starts with ``button``.

    Returns the answer without following its redirect: the Location is the
    platform's return or success URL, which the test checks.
    """
    http = http or requests.Session()
    page = http.get(page_url, timeout=CONTROL_TIMEOUT_SECONDS)
    page.raise_for_status()
    parser = _FormParser()
    parser.feed(page.text)
    form = parser.form
    if form is None:
        raise AssertionError(f"No form on {page_url}:\n{page.text}")
    clicked = next((key for text, key in form.buttons.items() if text.startswith(button)), None)
    if clicked is None:
        raise AssertionError(f"No button {button!r} on {page_url}; buttons: {list(form.buttons)}")
    data = {**form.fields, **(fields or {})}
    if clicked[0]:
        data[clicked[0]] = clicked[1]
    return http.request(
        form.method,
        urljoin(page_url, form.action),
        data=data,
        allow_redirects=False,
        timeout=CONTROL_TIMEOUT_SECONDS,
    )


def complete_onboarding(account_link_url: str) -> requests.Response:
    return submit_hosted_form(account_link_url, button="Complete onboarding")


def pay_checkout(
    session_url: str, *, card_number: str = "4242 4242 4242 4242"
) -> requests.Response:
    return submit_hosted_form(session_url, button="Pay", fields={"card_number": card_number})


# --- A webhook endpoint for the sandbox to call -------------------------------------------


@dataclass(frozen=True)
class ReceivedWebhook:
    body: bytes
    signature: str  # the Stripe-Signature header

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records each POST and answers 200 (or fails as told)."""

    def __init__(self) -> None:
        self._received: list[ReceivedWebhook] = []
        self._changed = threading.Condition()
        self._failures_left = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(
                    ReceivedWebhook(body=body, signature=self.headers.get("Stripe-Signature", ""))
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _record(self, webhook: ReceivedWebhook) -> int:
        """Keep a delivery that is answered 2xx; a failed one is only counted as refused."""
        with self._changed:
            if self._failures_left:
                self._failures_left -= 1
                return 500
            self._received.append(webhook)
            self._changed.notify_all()
            return 200

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/stripe/webhooks/"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int) -> None:
        """Answer 500 to the next ``count`` deliveries, to make the sandbox retry."""
        with self._changed:
            self._failures_left = count

    def clear(self) -> None:
        with self._changed:
            self._received.clear()
            self._failures_left = 0

    @property
    def received(self) -> list[ReceivedWebhook]:
        with self._changed:
            return list(self._received)

    def wait_for(
        self,
        event_type: str,
        *,
        count: int = 1,
        where: Callable[[dict[str, Any]], bool] = lambda event: True,
        timeout: float = 10.0,
    ) -> list[ReceivedWebhook]:
        """Wait until ``count`` events of this type (matching ``where``) have arrived."""

        def matching() -> list[ReceivedWebhook]:
            return [
                webhook
                for webhook in self._received
                if webhook.event["type"] == event_type and where(webhook.event)
            ]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [webhook.event["type"] for webhook in self._received]
                raise AssertionError(f"Waited {timeout}s for {count} {event_type}; got {seen}")
            return matching()
