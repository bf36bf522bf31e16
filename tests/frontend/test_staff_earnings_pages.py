"""Staff console: every earning across brands, and clawing one back with a reason."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import AuditEvent
from payouts.models import Earning, EarningStatus, Posting, Purpose
from payouts.services import ledger_account, posting_create
from tests.frontend.money_helpers import (
    agent_of,
    balance,
    client_for,
    earn,
    release_all,
    staff_with_two_factor,
)

pytestmark = pytest.mark.django_db

EARNINGS = reverse("frontend:staff_earning_list")


def detail_url(earning) -> str:
    return reverse("frontend:staff_earning_detail", args=[earning.pk])


@pytest.fixture
def staff_user(db):
    return staff_with_two_factor("ops@gigdesk.test")


@pytest.fixture
def staff_client(staff_user):
    return client_for(staff_user)


@pytest.fixture
def agent(brand):
    return agent_of(brand, email="ana@agents.test")


@pytest.fixture
def earning(agent, brand):
    return earn(agent, brand, rate_minor=250, subject="Broken zip")


def clawback_postings() -> int:
    return Posting.objects.filter(kind="earning.clawback").count()


# --- access ---------------------------------------------------------------------------


def test_anonymous_users_are_asked_to_log_in(client, earning):
    for path in (EARNINGS, detail_url(earning)):
        response = client.get(path)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_brand_admins_are_refused(admin_client, earning):
    for path in (EARNINGS, detail_url(earning)):
        response = admin_client.get(path)
        assert response.status_code == 403
        assert "platform staff only" in response.content.decode()


def test_agents_are_refused_even_for_their_own_earning(agent, earning):
    client = client_for(agent)
    assert client.get(EARNINGS).status_code == 403
    assert client.get(detail_url(earning)).status_code == 403


def test_a_non_staff_post_claws_nothing_back(admin_client, agent, earning):
    for client in (admin_client, client_for(agent)):
        response = client.post(detail_url(earning), {"reason": "Mine now"})
        assert response.status_code == 403
    earning.refresh_from_db()
    assert earning.status == EarningStatus.PENDING
    assert clawback_postings() == 0


def test_staff_navigation_links_to_earnings_for_staff_only(staff_client, agent):
    assert f'href="{EARNINGS}"' in staff_client.get(reverse("frontend:staff_home")).content.decode()
    agent_home = client_for(agent).get(reverse("frontend:agent_home")).content.decode()
    assert f'href="{EARNINGS}"' not in agent_home


# --- the list -------------------------------------------------------------------------


def test_an_empty_platform_says_there_are_no_earnings_yet(staff_client):
    html = staff_client.get(EARNINGS).content.decode()
    assert "No earnings yet" in html


def test_the_list_shows_earnings_across_brands_and_agents(
    staff_client, brand, other_brand, agent, earning
):
    other_agent = agent_of(other_brand, email="bo@agents.test")
    earn(other_agent, other_brand, rate_minor=900)
    html = staff_client.get(EARNINGS).content.decode()
    assert "2 earnings." in html
    assert "ana@agents.test" in html and "bo@agents.test" in html
    assert "Acme Outdoors" in html and "Borealis Telecom" in html
    assert "€2.50" in html and "€9.00" in html


@pytest.fixture
def two_agents_two_brands(brand, other_brand, agent, earning):
    other_agent = agent_of(other_brand, email="bo@agents.test")
    usd = earn(other_agent, other_brand, rate_minor=900, currency="USD")
    return earning, usd


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("agent=ANA@agents", "ana@agents.test", "bo@agents.test"),
        ("currency=USD", "bo@agents.test", "ana@agents.test"),
        ("status=available", "bo@agents.test", "ana@agents.test"),
    ],
)
def test_filters_narrow_the_list(staff_client, two_agents_two_brands, query, shown, hidden):
    _, usd = two_agents_two_brands
    Earning.objects.filter(pk=usd.pk).update(status=EarningStatus.AVAILABLE)
    html = staff_client.get(f"{EARNINGS}?{query}").content.decode()
    assert "1 earning." in html
    assert shown in html
    assert hidden not in html


def test_the_brand_filter_shows_only_that_brands_earnings(
    staff_client, other_brand, two_agents_two_brands
):
    html = staff_client.get(f"{EARNINGS}?brand={other_brand.pk}").content.decode()
    assert "bo@agents.test" in html
    assert "ana@agents.test" not in html


def test_the_date_range_filters_by_the_day_earned(staff_client, two_agents_two_brands):
    old, _ = two_agents_two_brands
    Earning.objects.filter(pk=old.pk).update(earned_at=timezone.now() - timedelta(days=10))
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    recent = staff_client.get(f"{EARNINGS}?since={since}").content.decode()
    assert "bo@agents.test" in recent and "ana@agents.test" not in recent
    older = staff_client.get(f"{EARNINGS}?until={until}").content.decode()
    assert "ana@agents.test" in older and "bo@agents.test" not in older


def test_filters_that_match_nothing_say_so(staff_client, earning):
    html = staff_client.get(f"{EARNINGS}?agent=nobody").content.decode()
    assert "No earnings match these filters." in html


def test_an_htmx_filter_returns_only_the_table(staff_client, earning):
    response = staff_client.get(f"{EARNINGS}?agent=ana", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="earnings-table">')
    assert "<html" not in html


def test_the_list_is_paginated(staff_client, brand, agent, monkeypatch):
    from frontend.views import staff_earnings

    monkeypatch.setattr(staff_earnings, "EARNINGS_PER_PAGE", 2)
    for _ in range(3):
        earn(agent, brand)
    first = staff_client.get(EARNINGS).content.decode()
    assert "Page 1 of 2" in first
    second = staff_client.get(f"{EARNINGS}?page=2").content.decode()
    assert "Page 2 of 2" in second
    assert second.count("ana@agents.test") == 1


# --- the clawback page ----------------------------------------------------------------


def test_a_pending_earning_says_the_clawback_reverses_the_pending_entry(staff_client, earning):
    html = staff_client.get(detail_url(earning)).content.decode()
    assert "reverses the pending earning" in html
    assert "€2.50 → €0.00" in html
    assert "Acme Outdoors gets back €3.00" in html  # the earning and the 20 % fee


def test_an_available_earning_says_it_comes_from_the_available_balance(staff_client, earning):
    release_all()
    html = staff_client.get(detail_url(earning)).content.decode()
    assert "available balance" in html
    assert "negative balance" not in html


def test_a_paid_out_earning_warns_of_the_negative_balance_the_next_run_nets_out(
    staff_client, agent, earning
):
    release_all()
    # What a pay run does when it sends the money: available -> in transit.
    posting_create(
        idempotency_key="test:payout",
        kind="payout.sent",
        lines=[
            (ledger_account(purpose=Purpose.AGENT_AVAILABLE, currency="EUR", agent=agent), -250),
            (ledger_account(purpose=Purpose.AGENT_IN_TRANSIT, currency="EUR", agent=agent), 250),
        ],
    )
    html = staff_client.get(detail_url(earning)).content.decode()
    assert "€0.00 → −€2.50" in html
    assert "negative balance" in html
    assert "next pay run nets out" in html


def test_a_hold_that_ended_is_released_when_the_page_is_read(staff_client, earning):
    Earning.objects.filter(pk=earning.pk).update(available_at=timezone.now() - timedelta(minutes=1))
    html = staff_client.get(detail_url(earning)).content.decode()
    assert "available balance" in html
    earning.refresh_from_db()
    assert earning.status == EarningStatus.AVAILABLE


def test_an_unknown_earning_is_404(staff_client):
    assert (
        staff_client.get(reverse("frontend:staff_earning_detail", args=[999999])).status_code == 404
    )


def test_clawing_back_a_pending_earning_reverses_it_and_is_audited(
    staff_client, staff_user, agent, brand, earning
):
    response = staff_client.post(detail_url(earning), {"reason": "Customer got wrong advice"})
    assert response.status_code == 302
    assert response.url == detail_url(earning)
    earning.refresh_from_db()
    assert earning.status == EarningStatus.CLAWED_BACK
    assert earning.clawback_reason == "Customer got wrong advice"
    assert earning.clawed_back_by == staff_user
    assert balance(agent, Purpose.AGENT_PENDING) == 0
    event = AuditEvent.objects.get(action="earning.clawed_back")
    assert event.actor == staff_user
    assert event.target_id == str(earning.pk)
    assert event.brand == brand
    assert event.changes["reason"] == "Customer got wrong advice"
    page = staff_client.get(response.url).content.decode()
    assert "clawed back" in page
    assert "Customer got wrong advice" in page
    assert '<form method="post"' not in page


def test_clawing_back_a_paid_earning_leaves_a_negative_available_balance(
    staff_client, agent, earning
):
    release_all()
    posting_create(
        idempotency_key="test:payout",
        kind="payout.sent",
        lines=[
            (ledger_account(purpose=Purpose.AGENT_AVAILABLE, currency="EUR", agent=agent), -250),
            (ledger_account(purpose=Purpose.AGENT_IN_TRANSIT, currency="EUR", agent=agent), 250),
        ],
    )
    staff_client.post(detail_url(earning), {"reason": "Chargeback"})
    assert balance(agent, Purpose.AGENT_AVAILABLE) == -250
    assert balance(agent, Purpose.AGENT_IN_TRANSIT) == 250


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_clawback_without_a_reason_is_refused_and_changes_nothing(staff_client, earning, reason):
    response = staff_client.post(detail_url(earning), {"reason": reason})
    assert response.status_code == 400
    assert "Say why the earning is clawed back" in response.content.decode()
    earning.refresh_from_db()
    assert earning.status == EarningStatus.PENDING
    assert clawback_postings() == 0
    assert not AuditEvent.objects.filter(action="earning.clawed_back").exists()


def test_a_second_clawback_is_refused_with_a_clear_message(staff_client, earning):
    staff_client.post(detail_url(earning), {"reason": "Chargeback"})
    response = staff_client.post(detail_url(earning), {"reason": "Again"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "This earning was already clawed back." in html
    assert clawback_postings() == 1
    earning.refresh_from_db()
    assert earning.clawback_reason == "Chargeback"


def test_the_agent_sees_the_reason_on_their_statement(staff_client, agent, earning):
    staff_client.post(detail_url(earning), {"reason": "Duplicate ticket"})
    html = client_for(agent).get(reverse("frontend:agent_earnings")).content.decode()
    assert "Clawed back: Duplicate ticket" in html
