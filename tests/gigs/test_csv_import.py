"""CSV import of tasks: upload checks, the background job (run inline), and its pages."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gigs.imports import (
    GENERIC_FAILURE,
    csv_parse,
    task_import_create,
    task_import_run,
    task_imports_fail_stale,
)
from gigs.models import GigStatus, ImportStatus, MessageKind, Task, TaskImport, TaskPriority
from marketplace.errors import ValidationFailed
from marketplace.models import AuditEvent
from tests.gigs.factories import GigFactory, TaskFactory

HEADER = "subject,body,customer_name,customer_reference,language,priority,external_id\n"


def _upload(client, brand, gig, content: str | bytes, name="tasks.csv", callbacks=None):
    raw = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("frontend:task_import", args=[brand.slug]),
        {"gig": gig.pk, "file": SimpleUploadedFile(name, raw, content_type="text/csv")},
    )


@pytest.fixture
def upload(admin_client, brand, gig, django_capture_on_commit_callbacks):
    """Upload through the page and run the queued job, as a worker would after commit."""

    def send(content, *, name="tasks.csv", to_gig=None):
        with django_capture_on_commit_callbacks(execute=True):
            return _upload(admin_client, brand, to_gig or gig, content, name=name)

    return send


def _import_page(brand, task_import):
    return reverse("frontend:task_import_detail", args=[brand.slug, task_import.pk])


# --- The job ----------------------------------------------------------------------------


def test_valid_file_imports_every_row(upload, brand, gig):
    response = upload(
        HEADER
        + "Where is my order?,Still waiting.,Ana,cust-1,es,high,zd-1\n"
        + "Change address,,Tom,cust-2,,,zd-2\n"
        + "Refund please,My kettle broke,,,,urgent,\n"
    )
    task_import = TaskImport.objects.get(brand=brand)
    assert response.status_code == 302
    assert response.url == _import_page(brand, task_import)
    assert task_import.status == ImportStatus.SUCCEEDED
    assert (task_import.created_count, task_import.skipped_count) == (3, 0)
    tasks = {task.external_id: task for task in Task.objects.for_brand(brand)}
    assert set(tasks) == {"zd-1", "zd-2", None}
    assert (tasks["zd-1"].language, tasks["zd-1"].priority) == ("es", TaskPriority.HIGH)
    assert tasks["zd-2"].language == gig.language
    first = tasks["zd-1"].messages.get()
    assert (first.kind, first.author_name, first.body) == (
        MessageKind.CUSTOMER,
        "Ana",
        "Still waiting.",
    )
    assert not tasks["zd-2"].messages.exists()


def test_successful_import_is_audited_with_counts(upload, brand, brand_admin):
    upload(HEADER + "One,,,,,,a-1\nTwo,,,,,,a-2\n")
    event = AuditEvent.objects.get(action="tasks.imported")
    assert event.actor == brand_admin
    assert (event.changes["created"], event.changes["skipped"]) == (2, 0)


def test_file_with_two_bad_rows_imports_nothing_and_lists_both(upload, brand):
    upload(
        HEADER
        + "Good one,,,,,,\n"
        + ",missing subject,,,,,\n"
        + "Also good,,,,,,\n"
        + "Bad language,,,,xx,sometimes,\n"
    )
    task_import = TaskImport.objects.get(brand=brand)
    assert task_import.status == ImportStatus.FAILED
    assert not Task.objects.exists()
    assert [error["line"] for error in task_import.errors] == [3, 5]
    assert set(task_import.errors[0]["errors"]) == {"subject"}
    assert set(task_import.errors[1]["errors"]) == {"language", "priority"}


def test_failed_import_page_lists_every_bad_line_with_reasons(upload, admin_client, brand):
    upload(HEADER + ",no subject,,,,,\nGood,,,,,,\nBad,,,,zz,,\n")
    task_import = TaskImport.objects.get(brand=brand)
    body = admin_client.get(_import_page(brand, task_import)).content.decode()
    assert "Nothing was created" in body
    assert "<td>2</td>" in body and "A task needs a subject." in body
    assert "<td>4</td>" in body and "Unknown language code" in body


def test_duplicate_external_id_in_file_names_both_lines(upload, brand):
    upload(HEADER + "One,,,,,,zd-9\nTwo,,,,,,zd-10\nThree,,,,,,zd-9\n")
    task_import = TaskImport.objects.get(brand=brand)
    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors == [
        {
            "line": 4,
            "errors": {
                "external_id": [
                    "External ID 'zd-9' is on lines 2 and 4; each may appear only once per file."
                ]
            },
        }
    ]
    assert not Task.objects.exists()


def test_reupload_skips_rows_already_imported(upload, brand):
    content = HEADER + "One,,,,,,zd-1\nTwo,,,,,,zd-2\n"
    upload(content)
    upload(content + "Three,,,,,,zd-3\n")
    second = TaskImport.objects.for_brand(brand).order_by("-pk").first()
    assert second.status == ImportStatus.SUCCEEDED
    assert (second.created_count, second.skipped_count) == (1, 2)
    assert Task.objects.for_brand(brand).count() == 3


def test_external_id_used_by_other_brand_is_not_skipped(upload, brand, other_gig):
    TaskFactory(gig=other_gig, external_id="zd-1")
    upload(HEADER + "One,,,,,,zd-1\n")
    assert Task.objects.for_brand(brand).filter(external_id="zd-1").count() == 1


def test_multiline_quoted_body_keeps_line_numbers(upload, brand):
    upload(HEADER + 'First,"line one\nline two",,,,,\n\n,no subject,,,,,\n')
    task_import = TaskImport.objects.get(brand=brand)
    assert task_import.errors[0]["line"] == 5


def test_blank_rows_are_ignored(upload, brand):
    upload(HEADER + "One,,,,,,\n,,,,,,\n\nTwo,,,,,,\n")
    task_import = TaskImport.objects.get(brand=brand)
    assert (task_import.status, task_import.created_count) == (ImportStatus.SUCCEEDED, 2)


def test_semicolon_separated_file_with_bom_is_read(upload, brand):
    upload("\ufeffsubject;priority\nBonjour;low\n".encode())
    task = Task.objects.get(brand=brand)
    assert (task.subject, task.priority) == ("Bonjour", TaskPriority.LOW)


def test_row_with_more_values_than_columns_is_an_error(upload, brand):
    upload("subject,priority\nHello,high,extra\n")
    task_import = TaskImport.objects.get(brand=brand)
    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors[0]["line"] == 2
    assert not Task.objects.exists()


def test_import_into_gig_closed_before_the_job_ran_fails(brand, gig, brand_admin):
    task_import = task_import_create(
        brand=brand, gig=gig, uploaded_by=brand_admin, file_name="t.csv", raw=b"subject\nHi\n"
    )
    gig.status = GigStatus.CLOSED
    gig.save()
    task_import_run(task_import_id=task_import.pk)
    task_import.refresh_from_db()
    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors[0]["line"] is None
    assert not Task.objects.exists()


def test_job_runs_an_import_only_once(brand, gig, brand_admin):
    task_import = task_import_create(
        brand=brand, gig=gig, uploaded_by=brand_admin, file_name="t.csv", raw=b"subject\nHi\n"
    )
    task_import_run(task_import_id=task_import.pk)
    assert task_import_run(task_import_id=task_import.pk) is None
    assert Task.objects.count() == 1


def test_progress_is_recorded_while_checking_rows(brand, gig, brand_admin, settings):
    rows = "".join(f"Question {n},,,,,,\n" for n in range(450))
    task_import = task_import_create(
        brand=brand,
        gig=gig,
        uploaded_by=brand_admin,
        file_name="t.csv",
        raw=(HEADER + rows).encode(),
    )
    finished = task_import_run(task_import_id=task_import.pk)
    assert (finished.total_rows, finished.processed_rows, finished.created_count) == (450, 450, 450)


def test_stale_running_import_is_marked_failed(brand, gig):
    task_import = TaskImport.objects.create(
        brand=brand,
        gig=gig,
        file_name="t.csv",
        content="subject\nHi\n",
        status=ImportStatus.RUNNING,
    )
    TaskImport.objects.filter(pk=task_import.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    assert task_imports_fail_stale() == 1
    task_import.refresh_from_db()
    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors[0]["errors"]["file"] == [GENERIC_FAILURE]


def test_recent_running_import_is_left_running(brand, gig):
    TaskImport.objects.create(
        brand=brand,
        gig=gig,
        file_name="t.csv",
        content="subject\nHi\n",
        status=ImportStatus.RUNNING,
    )
    assert task_imports_fail_stale() == 0


# --- Upload checks ----------------------------------------------------------------------


def test_unknown_column_rejects_whole_file(upload, brand):
    response = upload("subject,colour,size\nHello,red,XL\n")
    assert response.status_code == 200
    errors = response.context["form"].errors["file"]
    assert errors == [
        "Unknown columns: colour, size. Allowed columns: subject, body, customer_name, "
        "customer_reference, language, priority, external_id."
    ]
    assert not TaskImport.objects.exists()


def test_missing_subject_column_rejects_file(upload, brand):
    response = upload("body,priority\nHello,high\n")
    assert "no subject column" in response.context["form"].errors["file"][0]
    assert not TaskImport.objects.exists()


def test_non_utf8_file_is_rejected(upload, brand):
    response = upload("subject\nCafé crème\n".encode("latin-1"))
    assert "not UTF-8" in response.context["form"].errors["file"][0]
    assert not TaskImport.objects.exists()


def test_non_csv_file_name_is_rejected(upload, brand):
    response = upload("subject\nHello\n", name="tasks.xlsx")
    assert response.context["form"].errors["file"] == ["Upload a .csv file."]


def test_file_over_size_limit_is_rejected(upload, brand, settings):
    settings.GIGDESK_CSV_MAX_BYTES = 20
    response = upload("subject\n" + "A long enough subject\n")
    assert "larger than" in response.context["form"].errors["file"][0]
    assert not TaskImport.objects.exists()


def test_file_over_row_limit_is_rejected(upload, brand, settings):
    settings.GIGDESK_CSV_MAX_ROWS = 2
    response = upload("subject\nOne\nTwo\nThree\n")
    assert "more than 2 rows" in response.context["form"].errors["file"][0]
    assert not TaskImport.objects.exists()


def test_header_only_file_is_rejected(upload, brand):
    response = upload("subject,body\n")
    assert response.context["form"].errors["file"] == ["The file has a header but no rows."]


def test_upload_to_closed_gig_is_refused(admin_client, brand):
    closed = GigFactory(brand=brand, status=GigStatus.CLOSED)
    response = _upload(admin_client, brand, closed, "subject\nHi\n")
    assert "gig" in response.context["form"].errors
    assert not TaskImport.objects.exists()


def test_upload_to_other_brands_gig_is_refused(admin_client, brand, other_gig):
    response = _upload(admin_client, brand, other_gig, "subject\nHi\n")
    assert "gig" in response.context["form"].errors
    assert not TaskImport.objects.exists()


def test_viewer_cannot_upload(brand, gig, brand_viewer):
    client = Client()
    client.force_login(brand_viewer)
    response = _upload(client, brand, gig, "subject\nHi\n")
    assert response.status_code == 403
    assert not TaskImport.objects.exists()


def test_csv_parse_reads_header_case_insensitively():
    parsed = csv_parse(content=" Subject , External_ID\nHi,x-1\n")
    assert parsed.columns == ["subject", "external_id"]
    assert parsed.rows[0].values == {"subject": "Hi", "external_id": "x-1"}


def test_service_refuses_without_view(brand, gig, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        task_import_create(
            brand=brand, gig=gig, uploaded_by=brand_admin, file_name="t.csv", raw=b"\xff\xfe"
        )
    assert "file" in caught.value.fields


# --- Pages ------------------------------------------------------------------------------


def test_import_page_shows_template_and_recent_imports(admin_client, brand, gig):
    TaskImport.objects.create(brand=brand, gig=gig, file_name="march.csv", content="subject\nx\n")
    response = admin_client.get(reverse("frontend:task_import", args=[brand.slug]), {"gig": gig.pk})
    body = response.content.decode()
    assert response.context["form"]["gig"].value() == gig.pk
    assert "march.csv" in body
    assert 'download="gigdesk-tasks-template.csv"' in body


def test_viewer_sees_import_history_without_upload_form(brand, gig, brand_viewer):
    client = Client()
    client.force_login(brand_viewer)
    response = client.get(reverse("frontend:task_import", args=[brand.slug]))
    assert response.status_code == 200
    assert response.context["form"] is None


@pytest.mark.parametrize(
    ("status", "polls", "text"),
    [
        (ImportStatus.PENDING, True, "waiting for a worker"),
        (ImportStatus.RUNNING, True, "Checked 40 of 100 rows (40%)"),
        (ImportStatus.SUCCEEDED, False, "Created <strong>98</strong> tasks"),
        (ImportStatus.FAILED, False, "Nothing was created"),
    ],
)
def test_progress_page_renders_each_status(admin_client, brand, gig, status, polls, text):
    task_import = TaskImport.objects.create(
        brand=brand,
        gig=gig,
        file_name="t.csv",
        content="subject\nx\n",
        status=status,
        total_rows=100,
        processed_rows=40,
        created_count=98,
        skipped_count=2,
        errors=[{"line": 7, "errors": {"subject": ["A task needs a subject."]}}],
    )
    response = admin_client.get(_import_page(brand, task_import))
    body = response.content.decode()
    assert response.status_code == 200
    assert text in body
    assert ('hx-trigger="every 1s"' in body) is polls


def test_progress_poll_returns_status_partial(admin_client, brand, gig):
    task_import = TaskImport.objects.create(
        brand=brand, gig=gig, file_name="t.csv", content="subject\nx\n", status=ImportStatus.RUNNING
    )
    response = admin_client.get(_import_page(brand, task_import), HTTP_HX_REQUEST="true")
    assert [t.name for t in response.templates][0] == "tasks/task_import_detail_status.html"


def test_other_brands_import_is_404(admin_client, brand, other_gig):
    task_import = TaskImport.objects.create(
        brand=other_gig.brand, gig=other_gig, file_name="secret.csv", content="subject\nx\n"
    )
    assert admin_client.get(_import_page(brand, task_import)).status_code == 404
