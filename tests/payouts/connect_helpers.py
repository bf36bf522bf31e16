"""Steps the payout-account tests share: what the sandbox holds, and onboarding on its pages."""

from __future__ import annotations

import sqlite3

from stripe_sandbox.testing import SandboxProcess, complete_onboarding


def sandbox_account_ids(sandbox: SandboxProcess) -> list[str]:
    """Every connected account the sandbox has made, read from its own state file.

    Stripe's API has no list that would prove "no second account was made"
    without paging through every account; the sandbox's store can say it.
    """
    with sqlite3.connect(f"file:{sandbox.state_path}?mode=ro", uri=True) as state:
        rows = state.execute("SELECT id FROM objects WHERE type = 'account' ORDER BY seq")
        return [account_id for (account_id,) in rows]


def finish_onboarding(onboarding_url: str) -> str:
    """Click "Complete onboarding" on Stripe's hosted page; return where Stripe sends the agent."""
    response = complete_onboarding(onboarding_url)
    assert response.status_code == 302, response.text
    return response.headers["Location"]
