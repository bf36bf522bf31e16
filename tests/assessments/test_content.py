import pytest

from assessments.content import assessment_export, assessment_import
from assessments.models import Assessment, AssessmentVersion, Question, VersionStatus
from assessments.services import version_draft_from, version_publish
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from tests.assessments.factories import knowledge_doc, language_doc

pytestmark = pytest.mark.django_db


def test_import_creates_a_draft_with_every_question(staff):
    version = assessment_import(language_doc(), actor=staff)
    assert version.status == VersionStatus.DRAFT
    assert version.number == 1
    assert version.time_limit_seconds == 45 * 60
    # 3 grammar + reading + its 2 children + written
    assert Question.objects.filter(section__version=version).count() == 7
    reading = Question.objects.get(section__version=version, type="reading")
    assert reading.points == 2
    assert reading.children.count() == 2


def test_export_round_trips(staff):
    doc = language_doc()
    version = assessment_import(doc, actor=staff)
    exported = assessment_export(version)
    assert exported == doc


def test_export_round_trips_a_knowledge_assessment(staff):
    doc = knowledge_doc()
    assert assessment_export(assessment_import(doc, actor=staff)) == doc


def test_import_reports_every_error_with_its_path_and_imports_nothing(staff):
    doc = language_doc()
    doc["level_bands"][2]["level"] = "A1"
    doc["sections"][0]["draw"] = 9
    doc["sections"][0]["questions"][0]["choices"][1]["correct"] = True
    doc["sections"][0]["questions"][2]["accepted_answers"] = []
    doc["sections"][1]["questions"][0]["questions"][0]["type"] = "written"
    doc["sections"][2]["questions"][0]["points"] = 99
    doc["time_limit_minutes"] = "soon"
    with pytest.raises(ValidationFailed) as caught:
        assessment_import(doc, actor=staff)
    fields = caught.value.fields
    assert set(fields) == {
        "level_bands[2].level",
        "sections[0].draw",
        "sections[0].questions[0].choices",
        "sections[0].questions[2].accepted_answers",
        "sections[1].questions[0].questions[0].type",
        "sections[2].questions[0].points",
        "time_limit_minutes",
    }
    assert Assessment.objects.count() == 0
    assert Question.objects.count() == 0


def test_import_refuses_a_document_that_is_not_an_object(staff):
    with pytest.raises(ValidationFailed):
        assessment_import(["not", "a", "document"], actor=staff)


def test_knowledge_assessment_needs_a_pass_mark_and_a_domain(staff):
    doc = knowledge_doc()
    del doc["pass_mark"]
    doc["domain"] = ""
    with pytest.raises(ValidationFailed) as caught:
        assessment_import(doc, actor=staff)
    assert {"pass_mark", "domain"} <= set(caught.value.fields)


def test_publishing_freezes_and_reimport_makes_a_new_draft(staff):
    v1 = version_publish(assessment_import(language_doc(), actor=staff), staff)
    assert v1.status == VersionStatus.PUBLISHED
    with pytest.raises(Conflict):
        version_publish(v1, staff)
    changed = language_doc(title="Spanish (written), revised")
    changed["sections"][0]["questions"][0]["prompt"] = "Tú ___ de Sevilla."
    v2 = assessment_import(changed, actor=staff)
    assert v2.pk != v1.pk and v2.number == 2 and v2.status == VersionStatus.DRAFT
    v1.refresh_from_db()
    assert assessment_export(v1)["sections"][0]["questions"][0]["prompt"] == "Yo ___ de Madrid."
    version_publish(v2, staff)
    v1.refresh_from_db()
    assert v1.status == VersionStatus.RETIRED
    assert v1.assessment.published_version() == v2


def test_draft_from_copies_a_published_version(staff, spanish):
    draft = version_draft_from(spanish, staff)
    assert draft.number == 2 and draft.status == VersionStatus.DRAFT
    assert assessment_export(draft) == assessment_export(spanish)
    assert version_draft_from(spanish, staff) == draft


def test_only_staff_author_platform_assessments(agent, brand_admin):
    for actor in (agent, brand_admin):
        with pytest.raises(PermissionDenied):
            assessment_import(language_doc(), actor=actor)
    assert AssessmentVersion.objects.count() == 0


def test_a_brand_admin_authors_their_brands_assessment(brand, brand_admin):
    version = assessment_import(knowledge_doc(brand="acme"), actor=brand_admin, brand=brand)
    assert version.assessment.brand == brand


def test_another_brands_admin_cannot_author_it(brand, other_admin, brand_viewer):
    for actor in (other_admin, brand_viewer):
        with pytest.raises(PermissionDenied):
            assessment_import(knowledge_doc(), actor=actor, brand=brand)


def test_a_document_naming_another_brand_is_refused(brand, brand_admin):
    with pytest.raises(ValidationFailed) as caught:
        assessment_import(knowledge_doc(brand="borealis"), actor=brand_admin, brand=brand)
    assert "brand" in caught.value.fields


def test_another_owner_cannot_take_over_a_slug(brand, brand_admin, staff):
    assessment_import(knowledge_doc(), actor=staff)
    with pytest.raises(Conflict):
        assessment_import(knowledge_doc(), actor=brand_admin, brand=brand)


def test_a_question_with_more_choices_or_criteria_than_the_editor_shows_is_refused():
    from assessments.content import MAX_CHOICES, MAX_RUBRIC_CRITERIA, validate_document

    document = language_doc()
    items = [q for s in document["sections"] for q in s["questions"]]
    choice_item = next(q for q in items if q["type"] == "single_choice")
    choice_item["choices"] += [{"text": f"extra {i}", "correct": False} for i in range(MAX_CHOICES)]
    written = next(q for q in items if q["type"] == "written")
    written["rubric"] += [
        {"criterion": f"extra {i}", "max_points": 1, "description": ""}
        for i in range(MAX_RUBRIC_CRITERIA)
    ]
    errors = validate_document(document)
    assert any(path.endswith(".choices") and "At most" in m for path, m in errors.items())
    assert any(path.endswith(".rubric") and "At most" in m for path, m in errors.items())
