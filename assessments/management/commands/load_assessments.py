"""Import and publish every assessment document in assessments/content/.

Idempotent: a document whose content hash matches the assessment's
published version is skipped; a changed one becomes a new published version.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assessments.content import assessment_import, content_hash
from assessments.models import Assessment, VersionStatus
from assessments.services import version_publish
from brands.models import Brand
from marketplace.errors import GigdeskError

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"


def load_file(path: Path) -> str:
    """Load one document; returns what happened ("created", "updated", "unchanged")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path.name}: not readable JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path.name}: an assessment must be a JSON object.")
    existing = Assessment.objects.filter(slug=data.get("slug")).first()
    if existing is not None:
        published = existing.published_version()
        if published is not None and published.content_hash == content_hash(data):
            return "unchanged"
    brand = None
    if data.get("brand"):
        brand = Brand.objects.filter(slug=data["brand"]).first()
        if brand is None:
            raise CommandError(f"{path.name}: no brand with slug {data['brand']!r}.")
    try:
        version = assessment_import(data, actor=None, brand=brand)
        if version.status == VersionStatus.DRAFT:
            version_publish(version, None)
    except GigdeskError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise CommandError(f"{path.name}: {exc.message} {details}".strip()) from exc
    return "created" if existing is None else "updated"


class Command(BaseCommand):
    help = "Import and publish the assessments in assessments/content/*.json (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(CONTENT_DIR), help="Folder of *.json documents.")

    def handle(self, *args, **options):
        folder = Path(options["dir"])
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        if not files:
            self.stdout.write(f"No assessment documents in {folder}.")
            return
        for path in files:
            outcome = load_file(path)
            self.stdout.write(f"{path.name}: {outcome}")
