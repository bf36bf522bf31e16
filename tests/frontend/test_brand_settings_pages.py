"""Brand console: canned replies and resolution codes (admins edit, members read), and
the work shown on a task's page: holder, sessions, outcome, customer link, CSAT."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from gigs.dispatch import task_claim
from gigs.models import CannedReply, ResolutionCode, TaskStatus
from gigs.services import resolution_codes_seed
from gigs.work import task_escalate, task_for_customer_token, task_rate, task_resolve
from marketplace.models import AuditEvent
from tests.gigs.factories import TaskFactory
from tests.gigs.test_eligibility import make_agent

pytestmark = pytest.mark.django_db


def url(name, brand, *args):
    return reverse(f"frontend:{name}", args=[brand.slug, *args])


@pytest.fixture
def viewer_client(brand_viewer) -> Client:
    client = Client()
    client.force_login(brand_viewer)
    return client


@pytest.fixture
def canned(brand):
    return CannedReply.objects.create(
        brand=brand, title="Refund timeline", body="Refunds take 5 days.", language="en"
    )


# --- Canned replies ------------------------------------------------------------------------


def test_canned_replies_list_shows_only_the_brands_own(admin_client, brand, canned, other_brand):
    CannedReply.objects.create(brand=other_brand, title="Borealis script", body="secret")
    response = admin_client.get(url("canned_reply_list", brand))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Refund timeline" in page and "Borealis script" not in page


def test_canned_replies_empty_state(admin_client, brand):
    page = admin_client.get(url("canned_reply_list", brand)).content.decode()
    assert "No canned replies yet" in page


def test_admin_adds_a_canned_reply(admin_client, brand):
    response = admin_client.post(
        url("canned_reply_list", brand),
        {"title": "Delivery", "body": "Three to five days.", "language": "es"},
    )
    assert response.status_code == 302
    reply = CannedReply.objects.get(brand=brand)
    assert (reply.title, reply.body, reply.language) == ("Delivery", "Three to five days.", "es")


def test_adding_a_canned_reply_without_text_shows_the_error(admin_client, brand):
    response = admin_client.post(url("canned_reply_list", brand), {"title": "Delivery", "body": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["body"]
    assert not CannedReply.objects.exists()


def test_canned_replies_filter_by_language(admin_client, brand, canned):
    CannedReply.objects.create(brand=brand, title="Any-language reply", body="x")
    response = admin_client.get(url("canned_reply_list", brand), {"language": "any"})
    assert [reply.title for reply in response.context["replies_page"]] == ["Any-language reply"]


def test_admin_edits_a_canned_reply(admin_client, brand, canned):
    response = admin_client.post(
        url("canned_reply_edit", brand, canned.pk),
        {"title": "Refund timeline", "body": "Refunds take 3 days.", "language": ""},
    )
    assert response.status_code == 302
    canned.refresh_from_db()
    assert (canned.body, canned.language) == ("Refunds take 3 days.", "")


def test_admin_deletes_a_canned_reply(admin_client, brand, canned):
    response = admin_client.post(url("canned_reply_delete", brand, canned.pk))
    assert response.status_code == 302
    assert not CannedReply.objects.filter(pk=canned.pk).exists()
    assert AuditEvent.objects.filter(action="canned_reply.deleted").exists()


def test_a_viewer_reads_canned_replies_but_cannot_change_them(viewer_client, brand, canned):
    page = viewer_client.get(url("canned_reply_list", brand)).content.decode()
    assert "Refund timeline" in page and "Add a canned reply" not in page
    assert (
        viewer_client.post(url("canned_reply_list", brand), {"title": "x", "body": "y"}).status_code
        == 403
    )
    assert viewer_client.get(url("canned_reply_edit", brand, canned.pk)).status_code == 403
    assert viewer_client.post(url("canned_reply_delete", brand, canned.pk)).status_code == 403
    assert CannedReply.objects.filter(brand=brand).count() == 1


def test_another_brands_canned_reply_is_404(admin_client, brand, other_brand):
    theirs = CannedReply.objects.create(brand=other_brand, title="Secret", body="x")
    assert admin_client.get(url("canned_reply_edit", brand, theirs.pk)).status_code == 404
    assert admin_client.post(url("canned_reply_delete", brand, theirs.pk)).status_code == 404
    assert CannedReply.objects.filter(pk=theirs.pk).exists()


def test_non_members_get_404(admin_client, other_brand):
    assert admin_client.get(url("canned_reply_list", other_brand)).status_code == 404
    assert admin_client.get(url("resolution_code_list", other_brand)).status_code == 404


# --- Resolution codes ----------------------------------------------------------------------


def test_resolution_codes_list_shows_the_brands_codes(admin_client, brand, other_brand):
    resolution_codes_seed(brand)
    ResolutionCode.objects.create(brand=other_brand, code="borealis_only", label="Borealis only")
    page = admin_client.get(url("resolution_code_list", brand)).content.decode()
    assert "Question answered" in page and "borealis_only" not in page


def test_admin_adds_a_resolution_code(admin_client, brand):
    response = admin_client.post(
        url("resolution_code_list", brand), {"code": "store_credit", "label": "Store credit"}
    )
    assert response.status_code == 302
    assert ResolutionCode.objects.filter(brand=brand, code="store_credit", is_active=True).exists()


def test_a_duplicate_code_shows_the_error(admin_client, brand):
    ResolutionCode.objects.create(brand=brand, code="refund", label="Refund")
    response = admin_client.post(
        url("resolution_code_list", brand), {"code": "refund", "label": "Refund again"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert ResolutionCode.objects.filter(brand=brand).count() == 1


def test_admin_deactivates_and_reactivates_a_code(admin_client, brand):
    code = ResolutionCode.objects.create(brand=brand, code="refund", label="Refund")
    admin_client.post(url("resolution_code_set_active", brand, code.pk), {"is_active": "false"})
    assert ResolutionCode.objects.get(pk=code.pk).is_active is False
    admin_client.post(url("resolution_code_set_active", brand, code.pk), {"is_active": "true"})
    assert ResolutionCode.objects.get(pk=code.pk).is_active is True


def test_a_viewer_cannot_add_or_deactivate_codes(viewer_client, brand):
    code = ResolutionCode.objects.create(brand=brand, code="refund", label="Refund")
    page = viewer_client.get(url("resolution_code_list", brand)).content.decode()
    assert "Refund" in page and "Deactivate" not in page
    assert (
        viewer_client.post(
            url("resolution_code_list", brand), {"code": "x", "label": "y"}
        ).status_code
        == 403
    )
    response = viewer_client.post(
        url("resolution_code_set_active", brand, code.pk), {"is_active": "false"}
    )
    assert response.status_code == 403
    assert ResolutionCode.objects.get(pk=code.pk).is_active is True


def test_another_brands_code_cannot_be_deactivated(admin_client, brand, other_brand):
    theirs = ResolutionCode.objects.create(brand=other_brand, code="refund", label="Refund")
    response = admin_client.post(
        url("resolution_code_set_active", brand, theirs.pk), {"is_active": "false"}
    )
    assert response.status_code == 404
    assert ResolutionCode.objects.get(pk=theirs.pk).is_active is True


def test_the_console_navigation_links_both_pages(admin_client, brand):
    page = admin_client.get(url("brand_home", brand)).content.decode()
    assert url("canned_reply_list", brand) in page and url("resolution_code_list", brand) in page


# --- The task page: work, outcome, customer link, CSAT ---------------------------------------


@pytest.fixture
def agent(brand):
    return make_agent(brand)


def test_task_page_shows_a_working_customer_link(admin_client, client, brand, gig):
    task = TaskFactory(gig=gig)
    page = admin_client.get(url("task_detail", brand, task.pk)).content.decode()
    # Tokens carry the second they were made: read the page's own link.
    match = re.search(r"(/c/[^\"'<\s]+/)", page)
    assert match is not None
    link_path = match.group(1)
    assert task_for_customer_token(link_path.strip("/").split("/")[-1]) == task
    assert client.get(link_path).status_code == 200


def test_task_page_shows_the_holder_while_the_task_is_worked(admin_client, brand, gig, agent):
    task = task_claim(agent=agent, task_id=TaskFactory(gig=gig).pk)
    response = admin_client.get(url("task_detail", brand, task.pk))
    assert agent.get_full_name() in response.content.decode()
    assert response.context["open_session"].agent == agent


def test_task_page_shows_work_records_resolution_and_csat(admin_client, brand, gig, agent):
    resolution_codes_seed(brand)
    task = task_claim(agent=agent, task_id=TaskFactory(gig=gig).pk)
    task_resolve(agent=agent, task_id=task.pk, resolution_code="refund_issued")
    task.refresh_from_db()
    task_rate(task=task, score=4, comment="Quick and kind")
    response = admin_client.get(url("task_detail", brand, task.pk))
    page = response.content.decode()
    [(record, _billed, terms)] = response.context["work_rows"]
    assert (record.agent, record.outcome) == (agent, "resolved")
    assert terms == "€2.50 per resolution"
    assert "Refund issued" in page and "refund_issued" in page
    assert "<strong>4</strong> / 5" in page and "Quick and kind" in page


def test_task_page_shows_the_escalation_reason(admin_client, brand, gig, agent):
    task = task_claim(agent=agent, task_id=TaskFactory(gig=gig).pk)
    task_escalate(agent=agent, task_id=task.pk, reason="Needs a <manager>")
    page = admin_client.get(url("task_detail", brand, task.pk)).content.decode()
    assert "Escalated because" in page and "Needs a &lt;manager&gt;" in page


def test_a_cancelled_task_shows_no_customer_link(admin_client, brand, gig):
    task = TaskFactory(gig=gig, status=TaskStatus.CANCELLED)
    response = admin_client.get(url("task_detail", brand, task.pk))
    assert response.context["customer_link"] == ""
    assert "/c/" not in response.content.decode()
