"""One running sandbox: its state file, switches and webhook thread, shared by all request threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.http import HttpRequest

from stripe_sandbox.services.operation import Operation, RequestOrigin, SandboxConfig
from stripe_sandbox.store import Store
from stripe_sandbox.switches import Switches
from stripe_sandbox.webhooks import WebhookDispatcher

# The WSGI layer puts the running sandbox into each request's environ (see
# server.SandboxApp): views find it there rather than in a module global.
ENVIRON_KEY = "stripe_sandbox.sandbox"


class Sandbox:
    def __init__(self, *, config: SandboxConfig, state_path: Path) -> None:
        self.config = config
        self.store = Store(state_path)
        self.switches = Switches()
        self.webhooks = WebhookDispatcher(
            store=self.store, switches=self.switches, secret=config.webhook_secret
        )

    def start(self) -> None:
        self.webhooks.start()

    def stop(self) -> None:
        self.webhooks.stop()
        self.store.close()

    @contextmanager
    def operation(self, *, origin: RequestOrigin | None = None) -> Iterator[Operation]:
        """A transaction for one request; the webhook thread looks for new events after commit."""
        with self.store.transaction() as tx:
            yield Operation(tx=tx, config=self.config, origin=origin)
        self.webhooks.wake()

    def reset(self) -> None:
        """Forget every object, event, delivery and switch: a blank sandbox for the next test."""
        self.store.reset()
        self.switches.reset()
        self.webhooks.wake()


def sandbox_of(request: HttpRequest) -> Sandbox:
    return request.META[ENVIRON_KEY]
