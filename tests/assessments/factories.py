"""Assessment documents and published versions for tests."""

from __future__ import annotations

import copy

from assessments.content import assessment_import
from assessments.models import AssessmentVersion
from assessments.services import version_publish


def language_doc(slug: str = "spanish-written", **overrides) -> dict:
    """A small Spanish assessment: one section of each objective type, a
    reading item and a written task; every item is drawn."""
    doc = {
        "slug": slug,
        "title": "Spanish (written)",
        "kind": "language",
        "language": "es",
        "brand": None,
        "description": "Grammar, reading and writing.",
        "time_limit_minutes": 45,
        "cooldown_days": 14,
        "max_attempts": 3,
        "validity_months": 12,
        "level_bands": [
            {"level": "A1", "min_score": 0},
            {"level": "A2", "min_score": 25},
            {"level": "B1", "min_score": 45},
            {"level": "B2", "min_score": 65},
            {"level": "C1", "min_score": 85},
        ],
        "sections": [
            {
                "title": "Grammar",
                "instructions": "Choose the best answer.",
                "draw": 3,
                "questions": [
                    {
                        "type": "single_choice",
                        "prompt": "Yo ___ de Madrid.",
                        "points": 1,
                        "level": "A1",
                        "choices": [
                            {"text": "soy", "correct": True},
                            {"text": "estoy", "correct": False},
                        ],
                    },
                    {
                        "type": "multiple_choice",
                        "prompt": "Which are verbs?",
                        "points": 2,
                        "choices": [
                            {"text": "comer", "correct": True},
                            {"text": "mesa", "correct": False},
                            {"text": "vivir", "correct": True},
                        ],
                    },
                    {
                        "type": "short_answer",
                        "prompt": "The Spanish word for 'song'.",
                        "points": 1,
                        "accepted_answers": ["canción"],
                    },
                ],
            },
            {
                "title": "Reading",
                "instructions": "Read and answer.",
                "draw": 1,
                "questions": [
                    {
                        "type": "reading",
                        "passage": "Ana trabaja en una tienda de bicicletas.",
                        "points": 2,
                        "questions": [
                            {
                                "type": "single_choice",
                                "prompt": "¿Dónde trabaja Ana?",
                                "points": 1,
                                "choices": [
                                    {"text": "En una tienda", "correct": True},
                                    {"text": "En un banco", "correct": False},
                                ],
                            },
                            {
                                "type": "short_answer",
                                "prompt": "¿Qué vende la tienda?",
                                "points": 1,
                                "accepted_answers": ["bicicletas"],
                            },
                        ],
                    }
                ],
            },
            {
                "title": "Writing",
                "instructions": "Write a reply to the customer.",
                "draw": 1,
                "questions": [
                    {
                        "type": "written",
                        "prompt": "Reply to a customer whose parcel is late.",
                        "points": 6,
                        "rubric": [
                            {"criterion": "Task", "max_points": 4, "description": "Answers it."},
                            {"criterion": "Tone", "max_points": 2, "description": "Polite."},
                        ],
                    }
                ],
            },
        ],
    }
    doc.update(overrides)
    return copy.deepcopy(doc)


def knowledge_doc(slug: str = "support-basics", **overrides) -> dict:
    doc = {
        "slug": slug,
        "title": "Customer-support fundamentals",
        "kind": "knowledge",
        "domain": "customer-support",
        "brand": None,
        "description": "",
        "time_limit_minutes": 20,
        "cooldown_days": 7,
        "max_attempts": 3,
        "validity_months": 12,
        "pass_mark": 70,
        "sections": [
            {
                "title": "Basics",
                "instructions": "",
                "draw": 2,
                "questions": [
                    {
                        "type": "single_choice",
                        "prompt": f"Question {n}",
                        "points": 1,
                        "choices": [
                            {"text": "right", "correct": True},
                            {"text": "wrong", "correct": False},
                        ],
                    }
                    for n in range(6)
                ],
            }
        ],
    }
    doc.update(overrides)
    return copy.deepcopy(doc)


def published(doc: dict, *, actor=None, brand=None) -> AssessmentVersion:
    version = assessment_import(doc, actor=actor, brand=brand)
    return version_publish(version, actor)


def answer_everything(agent, attempt, *, correct: bool = True, written: str = "Dear customer…"):
    """Answer every question of ``attempt`` through the service, right or wrong."""
    from assessments.models import QuestionType
    from assessments.services import answer_save, attempt_questions

    for question in attempt_questions(attempt):
        if question.type == QuestionType.SINGLE_CHOICE:
            choice = question.choices.filter(correct=correct).first()
            response = choice.pk
        elif question.type == QuestionType.MULTIPLE_CHOICE:
            response = list(question.choices.filter(correct=correct).values_list("pk", flat=True))
        elif question.type == QuestionType.SHORT_ANSWER:
            response = question.accepted_answers[0] if correct else "no idea"
        else:
            response = written
        answer_save(agent=agent, attempt_id=attempt.pk, question_id=question.pk, response=response)
