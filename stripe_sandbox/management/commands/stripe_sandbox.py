"""``python manage.py stripe_sandbox``: run the local Stripe Connect sandbox."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from payouts.stripe_api import webhook_secret
from stripe_sandbox.server import serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111  # the port of Stripe's own mock server, stripe-mock
READY_MESSAGE = "Stripe sandbox listening on"  # stripe_sandbox.testing waits for this line


class Command(BaseCommand):
    help = (
        "Run the local Stripe Connect sandbox that the platform's stripe SDK talks to when "
        "STRIPE_SECRET_KEY is empty. State persists in its own SQLite file."
    )
    # The sandbox never touches the platform's database or models.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST)
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (printed)."
        )
        parser.add_argument(
            "--state",
            type=Path,
            default=None,
            help="The SQLite state file (default: DATA_DIR/stripe-sandbox.sqlite3).",
        )
        parser.add_argument(
            "--webhook-url",
            default=None,
            help="Where events are POSTed (default: STRIPE_SANDBOX_WEBHOOK_URL; '' for nowhere).",
        )

    def handle(
        self, *, host: str, port: int, state: Path | None, webhook_url: str | None, **options
    ) -> None:
        state_path = state or Path(settings.DATA_DIR) / "stripe-sandbox.sqlite3"
        if webhook_url is None:
            webhook_url = settings.STRIPE_SANDBOX_WEBHOOK_URL
        # A plain `kill` stops the server through its normal shutdown path.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

        def announce(base_url: str) -> None:
            self.stdout.write(f"{READY_MESSAGE} {base_url}", ending="\n")
            self.stdout.write(f"  state file: {state_path}")
            self.stdout.write(f"  webhooks:   {webhook_url or '(none)'}")
            self.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way out
            serve(
                host=host,
                port=port,
                state_path=state_path,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret(),
                on_ready=announce,
            )
