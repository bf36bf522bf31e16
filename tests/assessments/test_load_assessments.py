import json

import pytest
from django.core.management import CommandError, call_command

from assessments.models import Assessment, AssessmentVersion, VersionStatus
from tests.assessments.factories import knowledge_doc, language_doc

pytestmark = pytest.mark.django_db


def _write(folder, doc):
    (folder / f"{doc['slug']}.json").write_text(json.dumps(doc), encoding="utf-8")


def test_loads_and_publishes_every_document_once(tmp_path):
    _write(tmp_path, language_doc())
    _write(tmp_path, knowledge_doc())
    call_command("load_assessments", dir=str(tmp_path))
    call_command("load_assessments", dir=str(tmp_path))
    assert Assessment.objects.count() == 2
    assert AssessmentVersion.objects.count() == 2
    assert set(AssessmentVersion.objects.values_list("status", flat=True)) == {
        VersionStatus.PUBLISHED
    }


def test_changed_content_becomes_a_new_published_version(tmp_path):
    _write(tmp_path, knowledge_doc())
    call_command("load_assessments", dir=str(tmp_path))
    _write(tmp_path, knowledge_doc(pass_mark=80))
    call_command("load_assessments", dir=str(tmp_path))
    assessment = Assessment.objects.get()
    assert assessment.published_version().number == 2
    assert assessment.published_version().pass_mark == 80


def test_a_brand_document_needs_its_brand(tmp_path, brand):
    _write(tmp_path, knowledge_doc(slug="acme-product", brand="acme"))
    _write(tmp_path, knowledge_doc(slug="ghost-product", brand="ghost"))
    with pytest.raises(CommandError, match="ghost"):
        call_command("load_assessments", dir=str(tmp_path))
    assert Assessment.objects.get(slug="acme-product").brand == brand


def test_an_invalid_document_names_its_errors(tmp_path):
    doc = knowledge_doc()
    doc["sections"][0]["draw"] = 50
    _write(tmp_path, doc)
    with pytest.raises(CommandError, match=r"sections\[0\]\.draw"):
        call_command("load_assessments", dir=str(tmp_path))
    assert not Assessment.objects.exists()
