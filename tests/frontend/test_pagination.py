"""The shared pagination links keep the list's filters."""

from django.urls import reverse

from brands.pool_services import pool_apply
from frontend.views.gigs import GIGS_PER_PAGE
from frontend.views.pools import MEMBERS_PER_PAGE
from gigs.models import GigStatus
from tests.gigs.factories import GigFactory
from tests.marketplace.factories import AgentUserFactory


def test_gig_list_next_page_link_keeps_the_filter(admin_client, brand):
    GigFactory.create_batch(GIGS_PER_PAGE + 1, brand=brand, status=GigStatus.PAUSED)
    url = reverse("frontend:gig_list", args=[brand.slug])
    html = admin_client.get(url, {"status": "paused"}).content.decode()
    assert "status=paused&amp;page=2" in html
    second = admin_client.get(url, {"status": "paused", "page": 2}).content.decode()
    assert "Page 2 of 2" in second


def test_pool_list_next_page_link_keeps_the_status_tab(admin_client, brand):
    for _ in range(MEMBERS_PER_PAGE + 1):
        pool_apply(agent=AgentUserFactory(), brand=brand, note="")
    url = reverse("frontend:brand_pool", args=[brand.slug])
    html = admin_client.get(url, {"status": "applied"}).content.decode()
    assert "?status=applied&amp;page=2" in html
