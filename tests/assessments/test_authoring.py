"""Editing a draft in the UI: assessments, settings, sections and questions;
frozen versions refused; publishing checks the whole draft first."""

import pytest

from assessments.authoring import (
    FROZEN_MESSAGE,
    assessment_create,
    draft_problems,
    draft_publish,
    draft_settings_update,
    question_create,
    question_delete,
    question_move,
    question_update,
    section_create,
    section_delete,
    section_move,
    section_update,
)
from assessments.content import assessment_export, assessment_import
from assessments.models import Assessment, Question, QuestionType, VersionStatus
from assessments.services import version_draft_from
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.models import AuditEvent
from tests.assessments.factories import knowledge_doc

pytestmark = pytest.mark.django_db

SINGLE = {
    "type": "single_choice",
    "prompt": "Which colour is the sky?",
    "points": 2,
    "choices": [{"text": "Blue", "correct": True}, {"text": "Green", "correct": False}],
}


def _knowledge_draft(actor, brand=None, slug="returns"):
    return assessment_create(
        actor=actor, brand=brand, kind="knowledge", slug=slug, title="Returns", domain="support"
    )


def _settings(version, actor, **overrides):
    values = {
        "title": version.assessment.title,
        "description": "",
        "domain": version.assessment.domain,
        "time_limit_minutes": 20,
        "cooldown_days": 7,
        "max_attempts": 3,
        "validity_months": 12,
        "pass_mark": 80,
        "level_bands": None,
    }
    values.update(overrides)
    return draft_settings_update(actor=actor, version=version, **values)


# --- creating --------------------------------------------------------------------------


def test_creating_an_assessment_makes_an_empty_draft_version_one(staff):
    draft = _knowledge_draft(staff)
    assert draft.number == 1
    assert draft.status == VersionStatus.DRAFT
    assert draft.pass_mark == 70
    assert draft.assessment.brand is None
    assert AuditEvent.objects.filter(action="assessment.created").count() == 1


def test_a_language_assessment_starts_with_level_bands_and_no_pass_mark(staff):
    draft = assessment_create(
        actor=staff, brand=None, kind="language", slug="german", title="German", language="de"
    )
    assert draft.pass_mark is None
    assert [band["level"] for band in draft.level_bands] == ["A1", "A2", "B1", "B2", "C1", "C2"]


def test_creating_reports_every_invalid_field(staff):
    with pytest.raises(ValidationFailed) as caught:
        assessment_create(actor=staff, brand=None, kind="language", slug="bad slug!", title="")
    assert set(caught.value.fields) == {"slug", "title", "language"}
    assert Assessment.objects.count() == 0


def test_a_taken_slug_is_refused(staff, brand, brand_admin):
    _knowledge_draft(staff)
    with pytest.raises(ValidationFailed) as caught:
        _knowledge_draft(brand_admin, brand=brand)
    assert "slug" in caught.value.fields


def test_only_the_brands_admins_create_its_assessments(brand, brand_viewer, other_admin):
    for outsider in (brand_viewer, other_admin):
        with pytest.raises(PermissionDenied):
            _knowledge_draft(outsider, brand=brand)
    assert Assessment.objects.count() == 0


# --- settings --------------------------------------------------------------------------


def test_settings_change_the_drafts_rules(staff):
    draft = _settings(_knowledge_draft(staff), staff, time_limit_minutes=25, pass_mark=85)
    draft.refresh_from_db()
    assert draft.time_limit_seconds == 25 * 60
    assert draft.pass_mark == 85
    event = AuditEvent.objects.get(action="assessment.settings_updated")
    assert event.changes["pass_mark"] == [70, 85]


@pytest.mark.parametrize(
    "bands",
    [
        [{"level": "B1", "min_score": 40}, {"level": "A2", "min_score": 60}],
        [{"level": "A1", "min_score": 50}, {"level": "A2", "min_score": 50}],
        [{"level": "D1", "min_score": 10}],
        [],
    ],
    ids=["levels-descending", "scores-not-ascending", "not-cefr", "none"],
)
def test_level_bands_must_be_ascending_cefr_levels(staff, bands):
    draft = assessment_create(
        actor=staff, brand=None, kind="language", slug="german", title="German", language="de"
    )
    with pytest.raises(ValidationFailed) as caught:
        _settings(draft, staff, level_bands=bands)
    assert "level_bands" in caught.value.fields
    draft.refresh_from_db()
    assert len(draft.level_bands) == 6


def test_level_bands_may_award_a_subset_of_levels(staff):
    draft = assessment_create(
        actor=staff, brand=None, kind="language", slug="german", title="German", language="de"
    )
    bands = [{"level": "A2", "min_score": 30}, {"level": "B2", "min_score": 70}]
    assert _settings(draft, staff, level_bands=bands).level_bands == bands


# --- frozen versions ---------------------------------------------------------------------


@pytest.fixture
def published_version(staff):
    version = assessment_import(knowledge_doc(), actor=staff)
    return draft_publish(actor=staff, version=version)


def test_every_write_refuses_a_published_version(staff, published_version):
    section = published_version.sections.get()
    question = section.questions.first()
    writes = [
        lambda: _settings(published_version, staff),
        lambda: section_create(actor=staff, version=published_version, title="More", draw=1),
        lambda: section_update(actor=staff, section=section, title="X", instructions="", draw=1),
        lambda: section_delete(actor=staff, section=section),
        lambda: section_move(actor=staff, section=section, offset=1),
        lambda: question_create(actor=staff, section=section, item=SINGLE),
        lambda: question_update(actor=staff, question=question, item=SINGLE),
        lambda: question_delete(actor=staff, question=question),
        lambda: question_move(actor=staff, question=question, offset=1),
    ]
    before = assessment_export(published_version)
    for write in writes:
        with pytest.raises(Conflict) as caught:
            write()
        assert caught.value.message == FROZEN_MESSAGE
    assert assessment_export(published_version) == before


def test_a_new_draft_is_edited_while_the_published_version_stays(staff, published_version):
    draft = version_draft_from(published_version, staff)
    section = draft.sections.get()
    question_create(actor=staff, section=section, item=SINGLE)
    assert section.questions.count() == 7
    assert published_version.sections.get().questions.count() == 6


# --- sections --------------------------------------------------------------------------


def test_sections_are_added_in_order_and_reordered(staff):
    draft = _knowledge_draft(staff)
    first = section_create(actor=staff, version=draft, title="First", draw=1)
    second = section_create(actor=staff, version=draft, title="Second", draw=1)
    section_move(actor=staff, section=second, offset=-1)
    assert list(draft.sections.order_by("order").values_list("title", flat=True)) == [
        "Second",
        "First",
    ]
    section_move(actor=staff, section=first, offset=-1)
    section_move(actor=staff, section=first, offset=-1)  # already first: stays
    assert draft.sections.order_by("order").first().title == "First"


def test_deleting_a_section_renumbers_the_rest(staff):
    draft = _knowledge_draft(staff)
    first = section_create(actor=staff, version=draft, title="First", draw=1)
    section_create(actor=staff, version=draft, title="Second", draw=1)
    section_delete(actor=staff, section=first)
    assert list(draft.sections.values_list("title", "order")) == [("Second", 0)]


def test_a_section_needs_a_title_and_a_positive_draw(staff):
    draft = _knowledge_draft(staff)
    with pytest.raises(ValidationFailed) as caught:
        section_create(actor=staff, version=draft, title=" ", draw=0)
    assert set(caught.value.fields) == {"title", "draw"}
    assert not draft.sections.exists()


# --- questions -------------------------------------------------------------------------


@pytest.fixture
def section(staff):
    return section_create(actor=staff, version=_knowledge_draft(staff), title="Basics", draw=1)


def test_a_single_choice_question_needs_exactly_one_correct_choice(staff, section):
    item = {**SINGLE, "choices": [{"text": "a", "correct": True}, {"text": "b", "correct": True}]}
    with pytest.raises(ValidationFailed) as caught:
        question_create(actor=staff, section=section, item=item)
    assert "choices" in caught.value.fields
    assert not section.questions.exists()


def test_a_multiple_choice_question_needs_a_correct_choice(staff, section):
    item = {
        "type": "multiple_choice",
        "prompt": "Pick",
        "points": 1,
        "choices": [{"text": "a", "correct": False}, {"text": "b", "correct": False}],
    }
    with pytest.raises(ValidationFailed) as caught:
        question_create(actor=staff, section=section, item=item)
    assert "choices" in caught.value.fields


def test_a_short_answer_needs_an_accepted_answer(staff, section):
    item = {"type": "short_answer", "prompt": "Say", "points": 1, "accepted_answers": []}
    with pytest.raises(ValidationFailed) as caught:
        question_create(actor=staff, section=section, item=item)
    assert "accepted_answers" in caught.value.fields


def test_a_written_item_scores_the_sum_of_its_rubric(staff, section):
    item = {
        "type": "written",
        "prompt": "Write to the customer.",
        "rubric": [
            {"criterion": "Task", "max_points": 4, "description": "Answers it."},
            {"criterion": "Tone", "max_points": 2},
        ],
    }
    question = question_create(actor=staff, section=section, item=item)
    assert question.points == 6
    assert question.rubric[1] == {"criterion": "Tone", "max_points": 2, "description": ""}


def test_a_reading_passage_scores_the_sum_of_its_questions(staff, section):
    passage = question_create(
        actor=staff, section=section, item={"type": "reading", "passage": "Ana works."}
    )
    child = question_create(actor=staff, section=section, item=SINGLE, parent=passage)
    question_create(
        actor=staff,
        section=section,
        item={"type": "short_answer", "prompt": "Who?", "points": 1, "accepted_answers": ["Ana"]},
        parent=passage,
    )
    passage.refresh_from_db()
    assert passage.points == 3
    question_update(actor=staff, question=child, item={**SINGLE, "points": 5})
    passage.refresh_from_db()
    assert passage.points == 6
    question_delete(actor=staff, question=child)
    passage.refresh_from_db()
    assert passage.points == 1


def test_a_reading_passage_takes_no_written_questions(staff, section):
    passage = question_create(
        actor=staff, section=section, item={"type": "reading", "passage": "Text."}
    )
    written = {"type": "written", "prompt": "x", "rubric": [{"criterion": "a", "max_points": 1}]}
    with pytest.raises(ValidationFailed):
        question_create(actor=staff, section=section, item=written, parent=passage)
    assert not passage.children.exists()


def test_editing_a_question_replaces_its_choices_and_keeps_its_type(staff, section):
    question = question_create(actor=staff, section=section, item=SINGLE)
    item = {
        **SINGLE,
        "type": "short_answer",  # ignored: the type stays
        "choices": [
            {"text": "Red", "correct": False},
            {"text": "Sky blue", "correct": True},
            {"text": "Grey", "correct": False},
        ],
    }
    question_update(actor=staff, question=question, item=item)
    question.refresh_from_db()
    assert question.type == QuestionType.SINGLE_CHOICE
    assert list(question.choices.values_list("text", "correct")) == [
        ("Red", False),
        ("Sky blue", True),
        ("Grey", False),
    ]


def test_questions_are_reordered_within_their_section(staff, section):
    first = question_create(actor=staff, section=section, item={**SINGLE, "prompt": "one"})
    question_create(actor=staff, section=section, item={**SINGLE, "prompt": "two"})
    question_move(actor=staff, question=first, offset=1)
    prompts = list(
        Question.objects.filter(section=section).order_by("order").values_list("prompt", flat=True)
    )
    assert prompts == ["two", "one"]


def test_another_brands_admin_cannot_edit_a_brands_draft(brand, brand_admin, other_admin):
    draft = _knowledge_draft(brand_admin, brand=brand)
    with pytest.raises(PermissionDenied):
        section_create(actor=other_admin, version=draft, title="Mine now", draw=1)
    assert not draft.sections.exists()


# --- publishing ------------------------------------------------------------------------


def test_publishing_refuses_a_section_drawing_more_than_its_bank(staff, section):
    question_create(actor=staff, section=section, item=SINGLE)
    section_update(actor=staff, section=section, title="Basics", instructions="", draw=3)
    with pytest.raises(ValidationFailed) as caught:
        draft_publish(actor=staff, version=section.version)
    assert any("Cannot draw 3" in message for message in caught.value.fields.values())
    section.version.refresh_from_db()
    assert section.version.status == VersionStatus.DRAFT


def test_publishing_refuses_a_passage_without_questions(staff, section):
    question_create(actor=staff, section=section, item={"type": "reading", "passage": "Text."})
    problems = draft_problems(section.version)
    assert list(problems.values()) == ["A reading item needs at least one question."]
    assert list(problems) == ["Section 1 “Basics” · question 1 · questions"]


def test_publishing_refuses_an_empty_draft(staff):
    draft = _knowledge_draft(staff)
    with pytest.raises(ValidationFailed) as caught:
        draft_publish(actor=staff, version=draft)
    assert "sections" in caught.value.fields


def test_a_complete_draft_publishes_and_exports_to_an_importable_document(staff, section):
    question_create(actor=staff, section=section, item=SINGLE)
    version = draft_publish(actor=staff, version=section.version)
    assert version.status == VersionStatus.PUBLISHED
    document = assessment_export(version)
    document["slug"] = "returns-copy"
    copy = assessment_import(document, actor=staff)
    assert copy.sections.get().questions.get().choices.filter(correct=True).get().text == "Blue"
