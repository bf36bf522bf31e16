"""CSV import of tasks: check the file on upload, then validate every row and create all or none.

The upload step (``task_import_create``) only does the cheap checks a person
should hear about at once (encoding, size, columns, row count) and stores the
file; the background job (``task_import_run``) validates each row with the same
rules as the web form and the API (``task_input_errors``) and creates the tasks
in one transaction, so a file is never half imported.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from brands.models import Brand
from gigs.models import Gig, ImportStatus, Task, TaskImport
from gigs.services import TaskInput, task_input_errors, tasks_bulk_create
from marketplace.audit import audit_record
from marketplace.errors import ValidationFailed

logger = logging.getLogger(__name__)

TASK_IMPORT_COLUMNS = (
    "subject",
    "body",
    "customer_name",
    "customer_reference",
    "language",
    "priority",
    "external_id",
)
REQUIRED_COLUMNS = ("subject",)
TEMPLATE_CSV = (
    ",".join(TASK_IMPORT_COLUMNS) + "\r\n"
    "Where is my order?,My parcel was due on Monday and has not arrived.,Ana García,"
    "cust-1042,es,high,zendesk-88121\r\n"
    "Change delivery address,,Tom Baker,cust-2210,,normal,zendesk-88122\r\n"
)
# Progress is written this often so the page can show it without a write per row.
PROGRESS_EVERY = 200
# Validating even the largest allowed file takes seconds; an import still
# "running" this long after upload lost its worker (killed, redeployed).
STALE_AFTER = timedelta(hours=1)
GENERIC_FAILURE = (
    "The import stopped because of an internal error. Nothing was created; "
    "upload the file again, and contact support if it keeps happening."
)
_DELIMITERS = (",", ";", "\t")
_EXISTING_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class CsvRow:
    line: int  # the file line the row starts on; the header is line 1
    values: dict[str, str]
    extra_values: int = 0  # values past the last named column


@dataclass
class ParsedCsv:
    columns: list[str]
    rows: list[CsvRow] = field(default_factory=list)


def _file_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


def csv_decode(*, raw: bytes) -> str:
    """The file as text. UTF-8 only, with or without the BOM that Excel writes."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            "The file is not UTF-8 text. In Excel choose “CSV UTF-8” when saving, "
            "then upload it again."
        ) from exc
    if "\x00" in text:
        # UTF-16 saved without a BOM, or a spreadsheet binary renamed to .csv.
        raise _file_error("The file contains NUL bytes; it does not look like a CSV text file.")
    return text


def _delimiter(content: str) -> str:
    # Spreadsheets in many European locales save CSV with semicolons.
    first_line = content.split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(raw_columns: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in raw_columns]
    unnamed = [str(i) for i, name in enumerate(columns, start=1) if not name]
    if unnamed:
        raise _file_error(
            f"Column {', '.join(unnamed)} of the header has no name; name it or remove it."
        )
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise _file_error(f"The header repeats column {', '.join(duplicated)}.")
    unknown = [name for name in columns if name not in TASK_IMPORT_COLUMNS]
    if unknown:
        raise _file_error(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Allowed columns: {', '.join(TASK_IMPORT_COLUMNS)}."
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise _file_error(f"The header has no {', '.join(missing)} column, which is required.")
    return columns


def csv_parse(*, content: str, max_rows: int | None = None) -> ParsedCsv:
    """Split ``content`` into a checked header and its non-blank rows.

    Raises ``ValidationFailed`` (on ``file``) for a problem with the whole file.
    """
    if max_rows is None:
        max_rows = settings.GIGDESK_CSV_MAX_ROWS
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=_delimiter(content))
    parsed: ParsedCsv | None = None
    try:
        while True:
            start_line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not any(value.strip() for value in row):
                continue
            if parsed is None:
                if start_line != 1:
                    raise _file_error("The first line must be the header (column names).")
                parsed = ParsedCsv(columns=_header(row))
                continue
            if len(parsed.rows) >= max_rows:
                raise _file_error(
                    f"The file has more than {max_rows:,} rows; split it into smaller files."
                )
            width = len(parsed.columns)
            values = {
                name: (row[i].strip() if i < len(row) else "")
                for i, name in enumerate(parsed.columns)
            }
            extra = sum(1 for value in row[width:] if value.strip())
            parsed.rows.append(CsvRow(line=start_line, values=values, extra_values=extra))
    except csv.Error as exc:
        raise _file_error(f"Line {reader.line_num} could not be read as CSV: {exc}.") from exc
    if parsed is None:
        raise _file_error("The file is empty: it needs a header line and at least one row.")
    if not parsed.rows:
        raise _file_error("The file has a header but no rows.")
    return parsed


def _import_error(message: str) -> list[dict]:
    return [{"line": None, "errors": {"file": [message]}}]


@transaction.atomic
def task_import_create(
    *, brand: Brand, gig: Gig, uploaded_by, file_name: str, raw: bytes
) -> TaskImport:
    """Check an uploaded CSV file, store it, and queue the import job after commit."""
    file_errors: list[str] = []
    if not file_name.lower().endswith(".csv"):
        file_errors.append("Upload a .csv file.")
    if len(raw) > settings.GIGDESK_CSV_MAX_BYTES:
        limit_mb = settings.GIGDESK_CSV_MAX_BYTES / (1024 * 1024)
        file_errors.append(f"The file is larger than {limit_mb:g} MB; split it into smaller files.")
    if file_errors:
        raise ValidationFailed(file_errors[0], fields={"file": file_errors})
    if gig.brand_id != brand.pk:
        raise ValidationFailed("No such gig.", fields={"gig": ["No such gig."]})
    if not gig.accepts_tasks:
        message = "This gig is closed and takes no new tasks."
        raise ValidationFailed(message, fields={"gig": [message]})
    content = csv_decode(raw=raw)
    parsed = csv_parse(content=content)
    task_import = TaskImport.objects.create(
        brand=brand,
        gig=gig,
        uploaded_by=uploaded_by if getattr(uploaded_by, "pk", None) else None,
        file_name=file_name[:255],
        content=content,
        status=ImportStatus.PENDING,
        total_rows=len(parsed.rows),
    )
    from gigs.tasks import task_import_job  # the job module imports this one

    transaction.on_commit(lambda: task_import_job(task_import.pk))
    return task_import


def _row_input(gig: Gig, row: CsvRow) -> TaskInput:
    values = row.values
    return TaskInput(
        gig=gig,
        subject=values.get("subject", ""),
        body=values.get("body", ""),
        customer_name=values.get("customer_name", ""),
        customer_reference=values.get("customer_reference", ""),
        language=values.get("language", "").lower(),
        priority=values.get("priority", ""),
        external_id=values.get("external_id") or None,
    )


def _set_progress(task_import_id: int, processed: int) -> None:
    TaskImport.objects.filter(pk=task_import_id).update(processed_rows=processed)


def _check_rows(task_import: TaskImport, rows: list[CsvRow]) -> tuple[list[TaskInput], list[dict]]:
    """Every row as a ``TaskInput``, and ``{"line", "errors"}`` for every bad one."""
    inputs: list[TaskInput] = []
    bad: list[dict] = []
    first_line_of: dict[str, int] = {}
    for done, row in enumerate(rows, start=1):
        data = _row_input(task_import.gig, row)
        errors = task_input_errors(brand=task_import.brand, data=data)
        if row.extra_values:
            errors.setdefault("file", []).append(
                f"Has {row.extra_values} value(s) after the last column of the header."
            )
        if data.external_id:
            first = first_line_of.setdefault(data.external_id, row.line)
            if first != row.line:
                errors.setdefault("external_id", []).append(
                    f"External ID {data.external_id!r} is on lines {first} and {row.line}; "
                    "each may appear only once per file."
                )
        if errors:
            bad.append({"line": row.line, "errors": errors})
        inputs.append(data)
        if done % PROGRESS_EVERY == 0:
            _set_progress(task_import.pk, done)
    return inputs, bad


def _existing_external_ids(brand: Brand, inputs: list[TaskInput]) -> set[str]:
    wanted = sorted({data.external_id for data in inputs if data.external_id})
    existing: set[str] = set()
    # Chunked: SQLite caps the number of parameters in one query.
    for start in range(0, len(wanted), _EXISTING_LOOKUP_CHUNK):
        chunk = wanted[start : start + _EXISTING_LOOKUP_CHUNK]
        existing.update(
            Task.objects.for_brand(brand)
            .filter(external_id__in=chunk)
            .values_list("external_id", flat=True)
        )
    return existing


def _finish(task_import: TaskImport, *, status: str, **fields) -> TaskImport:
    task_import.status = status
    task_import.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(task_import, name, value)
    task_import.save(update_fields=["status", "finished_at", *fields])
    return task_import


def _create_once(task_import: TaskImport, inputs: list[TaskInput]) -> TaskImport:
    with transaction.atomic():
        existing = _existing_external_ids(task_import.brand, inputs)
        fresh = [data for data in inputs if data.external_id not in existing]
        created = tasks_bulk_create(brand=task_import.brand, rows=fresh)
        skipped = len(inputs) - len(created)
        _finish(
            task_import,
            status=ImportStatus.SUCCEEDED,
            processed_rows=len(inputs),
            created_count=len(created),
            skipped_count=skipped,
            errors=[],
        )
        audit_record(
            actor=task_import.uploaded_by,
            action="tasks.imported",
            target=task_import,
            brand=task_import.brand,
            changes={
                "gig": task_import.gig_id,
                "file_name": task_import.file_name,
                "rows": len(inputs),
                "created": len(created),
                "skipped": skipped,
            },
        )
    return task_import


def _create_all(task_import: TaskImport, inputs: list[TaskInput]) -> TaskImport:
    # A task sent through the API while this runs may take an external_id from
    # the file; the unique constraint then fails the bulk insert, and one more
    # pass skips it like any other already-known task.
    retries = 2
    while True:
        try:
            return _create_once(task_import, inputs)
        except IntegrityError:
            if retries == 0:
                raise
            retries -= 1
            logger.info("Task import %s raced another writer; retrying", task_import.pk)


def _execute(task_import_id: int) -> TaskImport:
    task_import = TaskImport.objects.select_related("brand", "gig", "uploaded_by").get(
        pk=task_import_id
    )
    try:
        parsed = csv_parse(content=task_import.content)
    except ValidationFailed as exc:
        return _finish(task_import, status=ImportStatus.FAILED, errors=_import_error(exc.message))
    task_import.total_rows = len(parsed.rows)
    task_import.save(update_fields=["total_rows"])
    if not task_import.gig.accepts_tasks:
        return _finish(
            task_import,
            status=ImportStatus.FAILED,
            errors=_import_error("The gig was closed before the import ran; nothing was created."),
        )
    inputs, bad = _check_rows(task_import, parsed.rows)
    if bad:
        return _finish(
            task_import, status=ImportStatus.FAILED, processed_rows=len(inputs), errors=bad
        )
    _set_progress(task_import.pk, len(inputs))
    return _create_all(task_import, inputs)


def task_import_run(*, task_import_id: int) -> TaskImport | None:
    """Run a pending import to the end: succeeded with every row created or skipped, or failed.

    Returns ``None`` when the import is not pending (already run by another
    worker, or gone), so a job delivered twice does nothing the second time.
    """
    claimed = TaskImport.objects.filter(pk=task_import_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, processed_rows=0
    )
    if not claimed:
        return None
    try:
        return _execute(task_import_id)
    except Exception:
        # Never leave the import "running": the page would poll forever.
        logger.exception("Task import %s crashed", task_import_id)
        TaskImport.objects.filter(pk=task_import_id).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            errors=_import_error(GENERIC_FAILURE),
        )
        return TaskImport.objects.filter(pk=task_import_id).first()


def task_imports_fail_stale(*, brand: Brand | None = None, now=None) -> int:
    """Mark imports whose worker died mid-run as failed; returns how many.

    Called by a periodic job and when an import's page is read, so a lost
    worker never leaves an import "running" on screen.
    """
    now = now or timezone.now()
    stale = TaskImport.objects.filter(status=ImportStatus.RUNNING, created_at__lt=now - STALE_AFTER)
    if brand is not None:
        stale = stale.for_brand(brand)
    return stale.update(
        status=ImportStatus.FAILED,
        finished_at=now,
        errors=_import_error(GENERIC_FAILURE),
    )
