"""Pay run execution keeps to Stripe's rate limit: one request per line, next to no 429s.

The sandbox answers 429 past its limit, as Stripe does. A run paced to the
same limit sends one transfer per line and is almost never refused for
going too fast. How close it comes to the floor (lines / rate) is measured
by ``python -m bench.payrun``, not asserted here: a timed test would fail on
a busy machine. Balances are posted directly here: the point is the pace,
and every line pays the same onboarded account.
"""

import pytest

from payouts import payrun_transfers, payruns
from payouts.models import PayRunLine, PayRunLineStatus, Purpose
from payouts.payrun_transfers import payrun_process
from payouts.services import ledger_account, posting_create
from tests.brands.factories import BrandFactory
from tests.marketplace.factories import AgentProfileFactory, StaffUserFactory
from tests.payouts.factories import brand_fund
from tests.payouts.payrun_helpers import fund_platform, onboard, sandbox_transfers

pytestmark = pytest.mark.django_db

LINES = 60
RATE = 20


def test_a_run_paced_at_the_rate_limit_sends_one_request_per_line_without_429s(
    sandbox,
    stripe_webhooks,
    deliver,
    brand,
    brand_admin,
    staff_user,
    settings,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    fund_platform(stripe_webhooks, deliver, brand=brand, admin=brand_admin, amount_minor=500_000)
    destination = onboard(AgentProfileFactory().user).stripe_account_id
    payer = BrandFactory()
    brand_fund(payer)
    for number in range(LINES):
        agent = AgentProfileFactory().user
        posting_create(
            idempotency_key=f"pacing:{number}",
            kind="test.earning",
            lines=[
                (ledger_account(purpose=Purpose.BRAND_BALANCE, currency="EUR", brand=payer), -1500),
                (
                    ledger_account(purpose=Purpose.AGENT_AVAILABLE, currency="EUR", agent=agent),
                    1500,
                ),
            ],
        )
        from payouts.models import PayoutAccount

        PayoutAccount.objects.create(
            agent=agent,
            stripe_account_id=f"acct_pacing{number:04d}",
            payouts_enabled=True,
            synced_at=PayoutAccount.objects.first().synced_at,
        )
    run = payruns.payrun_create(actor=staff_user, currency="EUR")
    PayRunLine.objects.filter(run=run, destination__startswith="acct_pacing").update(
        destination=destination
    )
    run = payruns.payrun_approve(run=run, actor=StaffUserFactory())
    with django_capture_on_commit_callbacks(execute=False):
        payruns.payrun_execute(run=run, actor=staff_user)
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = RATE
    monkeypatch.setattr(payrun_transfers, "CHUNK_SECONDS", 1)  # several chunks, recorded as it goes
    sandbox.rate_limit(RATE)
    try:
        progress = payrun_process(run_id=run.pk)
    finally:
        sandbox.rate_limit(None)

    assert progress.completed and progress.paid == LINES
    assert PayRunLine.objects.filter(run=run, status=PayRunLineStatus.PAID).count() == LINES
    assert len(sandbox_transfers(sandbox)) == LINES
    assert progress.rate_limited <= 2
