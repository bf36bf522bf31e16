"""Brand pages and money for dispatch: the "paused for funds" banner, what is
reserved, spend per gig, and that none of it shows another brand's money."""

import pytest
from django.test import Client
from django.urls import reverse

from gigs.dispatch import task_claim
from gigs.models import PayModel
from gigs.services import resolution_codes_seed
from gigs.work import task_resolve
from tests.gigs.factories import GigFactory, TaskFactory
from tests.gigs.test_eligibility import make_agent
from tests.payouts.factories import brand_fund

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user, name: str, *args) -> str:
    response = client_for(user).get(reverse(f"frontend:{name}", args=args))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def poor_gig(brand):
    """A gig of ``brand`` whose balance (€1.00) cannot cover one task (€3.00)."""
    gig = GigFactory(brand=brand, title="Returns desk", rate_minor=250, funded=False)
    brand_fund(brand, "EUR", 100)
    return gig


def resolve_one(brand, gig):
    resolution_codes_seed(brand)
    agent = make_agent(brand)
    task = TaskFactory(gig=gig)
    task_claim(agent=agent, task_id=task.pk)
    task_resolve(agent=agent, task_id=task.pk, resolution_code="answered")


# --- The banner ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "with_gig"),
    [("brand_home", False), ("gig_list", False), ("gig_detail", True), ("brand_billing", False)],
)
def test_a_gig_paused_for_funds_is_named_on_the_brand_pages(
    brand, brand_admin, poor_gig, name, with_gig
):
    args = [brand.slug, poor_gig.pk] if with_gig else [brand.slug]
    html = page(brand_admin, name, *args)

    assert 'id="paused-for-funds"' in html
    assert "Returns desk" in html
    assert "balance €1.00, one task needs €3.00" in html
    assert reverse("frontend:brand_billing", args=[brand.slug]) + "#top-up" in html


def test_funded_gigs_show_no_banner(brand, brand_admin):
    gig = GigFactory(brand=brand)
    for name, args in (
        ("brand_home", [brand.slug]),
        ("gig_list", [brand.slug]),
        ("gig_detail", [brand.slug, gig.pk]),
        ("brand_billing", [brand.slug]),
    ):
        assert 'id="paused-for-funds"' not in page(brand_admin, name, *args)


def test_a_paused_gig_that_is_not_active_needs_no_banner(brand, brand_admin, poor_gig):
    poor_gig.status = "paused"
    poor_gig.save()
    assert 'id="paused-for-funds"' not in page(brand_admin, "brand_home", brand.slug)


def test_the_banner_on_a_gig_page_is_about_that_gig(brand, brand_admin, poor_gig):
    funded = GigFactory(brand=brand, currency="USD", title="Funded desk")
    assert 'id="paused-for-funds"' not in page(brand_admin, "gig_detail", brand.slug, funded.pk)


def test_viewers_are_told_to_ask_an_admin(brand, brand_viewer, poor_gig):
    html = page(brand_viewer, "brand_home", brand.slug)
    assert 'id="paused-for-funds"' in html
    assert "ask an admin of Acme Outdoors to top up" in html


def test_another_brands_unfunded_gig_is_not_shown(brand, brand_admin, other_brand):
    GigFactory(brand=other_brand, title="Borealis secret", funded=False)
    GigFactory(brand=brand)
    html = page(brand_admin, "brand_home", brand.slug)
    assert "Borealis secret" not in html
    assert 'id="paused-for-funds"' not in html


def test_the_gig_page_says_what_a_claim_reserves(brand, brand_admin):
    gig = GigFactory(brand=brand, pay_model=PayModel.PER_MINUTE, rate_minor=40, reserve_minutes=10)
    html = page(brand_admin, "gig_detail", brand.slug, gig.pk)
    assert "€4.80" in html  # 10 minutes at €0.40 plus 20 %
    assert "10 minutes at the rate" in html


# --- Billing: reserved, spend per gig -------------------------------------------------------


def test_billing_shows_what_running_work_has_reserved(brand, brand_admin):
    gig = GigFactory(brand=brand, rate_minor=250)
    task = TaskFactory(gig=gig)
    task_claim(agent=make_agent(brand), task_id=task.pk)

    html = page(brand_admin, "brand_billing", brand.slug)
    assert "Reserved for work in progress" in html
    assert "€3.00" in html  # the one claim's reservation
    assert "Reserved for a task" in html  # its line on the statement


def test_billing_lists_spend_per_gig(brand, brand_admin):
    returns = GigFactory(brand=brand, title="Returns", rate_minor=250, max_tasks_per_agent=5)
    GigFactory(brand=brand, title="Idle gig")
    resolve_one(brand, returns)
    resolve_one(brand, returns)

    html = page(brand_admin, "brand_billing", brand.slug)
    section = html[html.index('id="spend-per-gig"') :]
    assert "Returns" in section
    assert "Idle gig" not in section  # nothing paid for yet
    # Two tasks: €5.00 to agents, €1.00 of fees, €6.00 in all.
    start = section.index(">Returns<")
    row = section[start : section.index("</tr>", start)]
    for cell in ("<td>2</td>", "€5.00", "€1.00", "€6.00"):
        assert cell in row


def test_spend_per_gig_is_computed_in_a_constant_number_of_queries(
    brand, django_assert_max_num_queries
):
    from payouts.funding import brand_spend_per_gig

    for n in range(3):
        resolve_one(brand, GigFactory(brand=brand, title=f"Gig {n}"))
    with django_assert_max_num_queries(1):
        rows = brand_spend_per_gig(brand=brand)
    assert [(row.title, row.tasks, row.total_minor) for row in rows] == [
        ("Gig 0", 1, 300),
        ("Gig 1", 1, 300),
        ("Gig 2", 1, 300),
    ]


def test_billing_shows_no_other_brands_spend_or_reservations(brand, brand_admin, other_brand):
    resolve_one(brand, GigFactory(brand=brand, title="Ours"))
    theirs = GigFactory(brand=other_brand, title="Borealis billing", rate_minor=777)
    resolve_one(other_brand, theirs)
    task_claim(agent=make_agent(other_brand), task_id=TaskFactory(gig=theirs).pk)

    html = page(brand_admin, "brand_billing", brand.slug)
    assert "Ours" in html
    assert "Borealis billing" not in html
    assert "€9.32" not in html  # their reservation (7.77 + 20 %)
    assert "€7.77" not in html


def test_another_brands_admin_cannot_open_the_billing_page(brand, other_admin):
    response = client_for(other_admin).get(reverse("frontend:brand_billing", args=[brand.slug]))
    assert response.status_code == 404


# --- The gig form's reserve -------------------------------------------------------------------


def test_the_gig_form_explains_and_saves_the_minutes_reserved_per_claim(admin_client, brand):
    from gigs.models import Gig
    from tests.frontend.test_gig_pages import _gig_post

    url = reverse("frontend:gig_create", args=[brand.slug])
    assert "Minutes reserved per claim" in admin_client.get(url).content.decode()
    response = admin_client.post(
        url, _gig_post(pay_model="per_minute", max_billable_minutes="30", reserve_minutes="20")
    )
    assert response.status_code == 302
    assert Gig.objects.get(brand=brand).reserve_minutes == 20


def test_the_gig_form_refuses_a_reserve_above_the_billable_cap(admin_client, brand):
    from gigs.models import Gig
    from tests.frontend.test_gig_pages import _gig_post

    response = admin_client.post(
        reverse("frontend:gig_create", args=[brand.slug]),
        _gig_post(pay_model="per_minute", max_billable_minutes="30", reserve_minutes="31"),
    )
    assert response.status_code == 200
    message = "Reserve at most the most billable minutes per task (30): a claim never needs more."
    assert response.context["form"].errors["reserve_minutes"] == [message]
    assert not Gig.objects.filter(brand=brand).exists()


def test_a_reserve_left_empty_follows_a_lower_billable_cap(admin_client, brand):
    from gigs.models import Gig
    from tests.frontend.test_gig_pages import _gig_post

    admin_client.post(
        reverse("frontend:gig_create", args=[brand.slug]),
        _gig_post(pay_model="per_minute", max_billable_minutes="10", reserve_minutes=""),
    )
    assert Gig.objects.get(brand=brand).reserve_minutes == 10
