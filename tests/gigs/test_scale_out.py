"""Two daphne processes behind one Redis work as one: an event raised in one
reaches a socket held by the other.

Real processes, real sockets, the test's own database: the processes are
started with DATABASE_URL pointing at it, so they see what the test commits.
Needs REDIS_URL (CI runs Redis); skipped without it.
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, closing
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from gigs.models import Task, TaskStatus
from tests.gigs.test_eligibility import make_agent

pytestmark = [
    pytest.mark.skipif(
        not settings.REDIS_URL,
        reason="needs Redis (REDIS_URL): the processes meet in its channel layer",
    ),
    pytest.mark.django_db(transaction=True),
]

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30
EVENT_TIMEOUT = 5


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _test_database_url() -> str:
    """The URL of the database this test runs in (pytest's test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        return f"postgres://{credentials}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


class Daphne:
    """One daphne process serving the project, stopped on exit whatever happened."""

    def __init__(self, name: str, log_dir: Path):
        self.name = name
        self.port = _free_port()
        self.log_path = log_dir / f"daphne-{name}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Daphne":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            # No pool: the test database is flushed after the test, and idle
            # pooled connections would only get in the way.
            "DATABASE_POOL": "false",
            # Jobs these processes schedule go to a queue no worker reads.
            "HUEY_NAME": f"gigdesk-scale-out-test-{os.getpid()}",
        }
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*command, "marketplace.asgi:application"],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne {self.name} exited:\n{self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"daphne {self.name} did not start:\n{self.log_path.read_text()}")

    def __exit__(self, *exc_info) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def agent_socket(self, agent) -> ClientConnection:
        client = Client()
        client.force_login(agent)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        return connect(
            f"ws://127.0.0.1:{self.port}/ws/agent/",
            origin=self.http,
            additional_headers={"Cookie": f"{cookie.key}={cookie.value}"},
            open_timeout=10,
        )


def wait_for(ws: ClientConnection, predicate, timeout: float = EVENT_TIMEOUT) -> dict:
    """The first event matching ``predicate``. Other events are skipped: the
    processes share Redis with anything else using it."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("the expected event did not arrive")
        try:
            event = json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError("the expected event did not arrive") from None
        if predicate(event):
            return event


def is_type(kind):
    return lambda event: event["type"] == kind


def test_an_offer_and_a_withdraw_cross_from_one_process_to_the_other(
    brand, gig, api_secret, tmp_path
):
    ana, ben = make_agent(brand), make_agent(brand)
    with ExitStack() as stack:
        first = stack.enter_context(Daphne("a", tmp_path))
        second = stack.enter_context(Daphne("b", tmp_path))
        ana_ws = stack.enter_context(first.agent_socket(ana))
        assert wait_for(ana_ws, is_type("snapshot"))["offers"] == []

        # A task arrives through the API of the second process...
        response = requests.post(
            f"{second.http}/api/v1/tasks",
            json={"gig": gig.pk, "subject": "Stove will not light", "body": "Since Monday."},
            headers={"Authorization": f"Bearer {api_secret}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        task_id = response.json()["id"]

        # ...and is offered to the agent connected to the first.
        offer = wait_for(ana_ws, is_type("offer"))
        assert offer["task"]["id"] == task_id
        assert offer["task"]["subject"] == "Stove will not light"

        # A claim through the second process withdraws it on the first.
        ben_ws = stack.enter_context(second.agent_socket(ben))
        snapshot = wait_for(ben_ws, is_type("snapshot"))
        assert [task["id"] for task in snapshot["offers"]] == [task_id]
        ben_ws.send(json.dumps({"type": "claim", "task_id": task_id, "ref": "b-1"}))
        result = wait_for(ben_ws, lambda event: event.get("ref") == "b-1")
        assert result["type"] == "claim.result", result

        withdraw = wait_for(ana_ws, is_type("withdraw"))
        assert withdraw == {"type": "withdraw", "task_id": task_id, "reason": "taken"}

    task = Task.objects.get(pk=task_id)
    assert (task.status, task.holder_id) == (TaskStatus.CLAIMED, ben.pk)
