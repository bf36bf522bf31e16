"""The demo world's assessments, for ``seed_demo``.

Loads the shipped documents (``assessments/content/``), sets the
certifications Borealis and Acme require, and gives the demo agents a history
of attempts taken through the real services: started, answered, submitted and
graded by staff, so every score, level and certification has answers behind
it. The history is then moved back in time, as ``seed_demo`` does with tasks.

The questions an attempt draws come from ``attempt_start``'s own random seed,
so they differ between machines; the scores aimed at do not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from assessments.management.commands.load_assessments import CONTENT_DIR, load_file
from assessments.models import (
    Answer,
    Assessment,
    Attempt,
    AttemptStatus,
    BrandCertificationRequirement,
    Certification,
    GigCertificationRequirement,
    Question,
    QuestionType,
)
from assessments.requirements import brand_certification_require, gig_certification_require
from assessments.services import (
    add_months,
    answer_grade,
    attempt_questions,
    attempt_start,
    attempt_submit,
)
from brands.models import Brand, BrandMembership, BrandRole, PoolMembership, PoolStatus
from gigs.models import Gig
from marketplace.languages import CEFRLevel
from marketplace.models import User

SPANISH = "spanish-written"
ENGLISH = "english-written"
FUNDAMENTALS = "support-fundamentals"
ACME_PRODUCT = "acme-outdoors-product"

# Borealis asks for written Spanish at B2 to join its pool and to work its
# Spanish billing gig (whose language minimum is B2 too, so a B2 certificate
# and a B2 profile are enough).
BOREALIS = "borealis-telecom"
BOREALIS_SPANISH_GIG = "Facturación y tarifas (ES)"
SPANISH_LEVEL_REQUIRED = CEFRLevel.B2
# Acme's gear-advice agents must know its catalogue and policies.
ACME = "acme-outdoors"
ACME_PRODUCT_GIG = "Gear advice, live chat (DE)"


@dataclass(frozen=True)
class PastAttempt:
    agent: int  # the demo agent's number (agentNN@gigdesk.demo)
    assessment: str
    score: int  # the percent aimed at
    days_ago: int
    # False: submitted, its written answer still in the staff grading queue.
    graded: bool = True


# History for the results pages: passes, fails and a spread of levels.
HISTORY = [
    PastAttempt(1, ENGLISH, 93, 40),
    PastAttempt(3, ENGLISH, 83, 21),
    PastAttempt(6, ENGLISH, 90, 33),
    PastAttempt(8, ENGLISH, 66, 12),
    PastAttempt(11, ENGLISH, 88, 8),
    PastAttempt(15, ENGLISH, 52, 5),
    PastAttempt(19, ENGLISH, 97, 27),
    PastAttempt(1, FUNDAMENTALS, 88, 38),
    PastAttempt(4, FUNDAMENTALS, 81, 19),
    PastAttempt(6, FUNDAMENTALS, 62, 30),
    PastAttempt(9, FUNDAMENTALS, 92, 15),
    PastAttempt(11, FUNDAMENTALS, 71, 9),
    PastAttempt(16, FUNDAMENTALS, 79, 6),
    PastAttempt(19, FUNDAMENTALS, 45, 4),
    PastAttempt(23, FUNDAMENTALS, 85, 11),
    PastAttempt(21, ACME_PRODUCT, 55, 10),
    # Below the lowest band: a fail, and agent05's page shows when to retake it.
    PastAttempt(5, SPANISH, 9, 2),
    PastAttempt(22, ENGLISH, 80, 1, graded=False),
    PastAttempt(24, FUNDAMENTALS, 76, 0, graded=False),
]
# Scores of the agents certified because their gig requires it (knowledge kind).
ACME_PRODUCT_SCORES = [91, 86, 80]

WRITTEN_REPLIES = {
    SPANISH: (
        "Estimado Pablo:\n\n"
        "Lamento mucho el error con su pedido 51877. Entiendo su decepción, sobre todo "
        "porque se va de viaje el jueves y no es la primera vez que le ocurre algo así.\n\n"
        "Hoy mismo le enviamos por mensajería urgente la mochila de 40 litros que pidió, sin "
        "ningún coste para usted, de modo que la reciba el miércoles como muy tarde. Además, "
        "un mensajero pasará a recoger gratis la mochila de 25 litros cuando a usted le venga "
        "bien; no hace falta que la empaquete de nuevo.\n\n"
        "Para que el envío llegue a tiempo, ¿podría confirmarme la dirección de entrega y una "
        "franja horaria en la que haya alguien en casa? En cuanto me responda, le enviaré el "
        "número de seguimiento.\n\n"
        "Le pido disculpas de nuevo y le deseo un muy buen viaje.\n\n"
        "Un cordial saludo,\nEquipo de atención al cliente"
    ),
    ENGLISH: (
        "Dear Chris,\n\n"
        "I'm truly sorry that your headlamp let you down on the mountain. Walking down in the "
        "dark with only your phone must have been stressful, and a lamp rated for 20 hours "
        "should never fail after two.\n\n"
        "You can choose what happens next: a full refund to your original payment method, or "
        "a replacement lamp that our warehouse tests before it ships. Either way, we will "
        "cover all shipping costs.\n\n"
        "If you'd like the refund, just reply to this message and I'll process it today; it "
        "usually reaches your account within five working days. If you prefer the "
        "replacement, please confirm your delivery address and I'll send it by express "
        "delivery. We would also be grateful if you could return the faulty lamp with the "
        "prepaid label I've attached, so our team can find out what went wrong.\n\n"
        "Thank you for your patience, and again, my apologies.\n\n"
        "Kind regards,\nThe Support Team"
    ),
    FUNDAMENTALS: (
        "I'm sorry you were charged twice for order 58213; I understand how frustrating that "
        "is, and I'll sort it out for you. For your security, please don't share card "
        "details in chat: I don't need them, and you may want to delete that message. I'm "
        "checking the two payments now. Once I've confirmed the duplicate, I'll refund "
        "€64.90 to your original card straight away; your bank usually shows it within 5 "
        "working days. I'll send you a confirmation email with the refund reference today.\n\n"
        "NOTE: Check the payment records for order 58213 to confirm both charges were "
        "captured, not one pending authorisation, before approving the refund."
    ),
}
# A weaker reply, for the agents whose scores are low.
WEAK_REPLIES = {
    SPANISH: "Hola. Perdon por el problema. Vamos a mandar otra mochila. Gracias.",
    ENGLISH: "Hello Chris, sorry for the lamp. We can send new one or money back. Thanks.",
    FUNDAMENTALS: (
        "Sorry for this. I will refund you now with the card you gave, the money is back "
        "today.\n\nNOTE: refund it."
    ),
}
WRONG_SHORT_ANSWERS = {SPANISH: "no sé"}
GRADER_COMMENTS = [
    (90, "Excellent reply: warm, precise and complete."),
    (70, "A good reply that covers every point; a few small slips in wording."),
    (50, "Understandable, but it misses part of the task and the tone is uneven."),
    (0, "Too short, and it does not answer what the customer needs."),
]


def _level_midpoint(assessment: Assessment, level: str) -> int:
    """The middle of the level's band, so rounding never moves a score across it."""
    bands = assessment.published_version().level_bands
    lows = [b["min_score"] for b in bands] + [100]
    index = [b["level"] for b in bands].index(level)
    return (lows[index] + lows[index + 1]) // 2


def _response(question: Question, right: bool, assessment_slug: str, written: str):
    if question.type == QuestionType.WRITTEN:
        return written
    if question.type == QuestionType.SHORT_ANSWER:
        return (
            question.accepted_answers[0]
            if right
            else WRONG_SHORT_ANSWERS.get(assessment_slug, "not sure")
        )
    choices = list(question.choices.all())
    correct = [c.pk for c in choices if c.correct]
    wrong = [c.pk for c in choices if not c.correct]
    if question.type == QuestionType.SINGLE_CHOICE:
        return correct[0] if right else wrong[0]
    return correct if right else wrong[:1]


def _grader_comment(score: int) -> str:
    return next(comment for floor, comment in GRADER_COMMENTS if score >= floor)


class AssessmentHistory:
    def __init__(self, *, staff: User, rng: random.Random):
        self.staff = staff
        self.rng = rng
        self.now = timezone.now()

    def take(self, agent: User, assessment: Assessment, *, score: int, days_ago: int, graded=True):
        """One sitting, as the agent and a staff grader would go through it,
        aiming at ``score`` percent; then moved ``days_ago`` days back."""
        attempt = attempt_start(agent=agent, assessment=assessment)
        questions = list(
            Question.objects.filter(pk__in=[q.pk for q in attempt_questions(attempt)])
            .prefetch_related("choices")
            .order_by("pk")
        )
        maximum = sum(q.points for q in questions)
        rubric_scores = {
            q.pk: {c["criterion"]: round(c["max_points"] * score / 100) for c in q.rubric}
            for q in questions
            if q.type == QuestionType.WRITTEN
        }
        # Objective items answered right until the points aimed at are reached.
        needed = round(maximum * score / 100) - sum(
            sum(points.values()) for points in rubric_scores.values()
        )
        right = set()
        objective = [q for q in questions if q.type != QuestionType.WRITTEN]
        for question in self.rng.sample(objective, len(objective)):
            if question.points <= needed:
                right.add(question.pk)
                needed -= question.points
        written = (WRITTEN_REPLIES if score >= 60 else WEAK_REPLIES).get(assessment.slug, "")
        # The answers are written in one go rather than through ``answer_save``
        # one by one (ten times slower, on every fresh dev database); they are
        # built from the question's own choices, so they are what it accepts,
        # and the real submit scores them.
        Answer.objects.bulk_create(
            Answer(
                attempt=attempt,
                question=question,
                response=_response(question, question.pk in right, assessment.slug, written),
            )
            for question in questions
        )
        attempt = attempt_submit(agent=agent, attempt_id=attempt.pk)
        if graded:
            for answer in attempt.answers.filter(needs_grading=True):
                answer_grade(
                    grader=self.staff,
                    answer_id=answer.pk,
                    score=rubric_scores[answer.question_id],
                    comment=_grader_comment(score),
                )
        self._move_back(attempt.pk, days_ago=days_ago)

    def _move_back(self, attempt_id: int, *, days_ago: int) -> None:
        attempt = Attempt.objects.select_related("version").get(pk=attempt_id)
        limit = attempt.version.time_limit_seconds
        took = timedelta(seconds=self.rng.randint(int(limit * 0.4), int(limit * 0.93)))
        submitted = self.now - timedelta(days=days_ago, hours=self.rng.randint(2, 9))
        started = submitted - took
        Attempt.objects.filter(pk=attempt_id).update(
            started_at=started,
            deadline_at=started + timedelta(seconds=limit),
            submitted_at=submitted,
        )
        Answer.objects.filter(attempt_id=attempt_id).update(saved_at=submitted)
        if attempt.status != AttemptStatus.GRADED:
            return
        written = Answer.objects.filter(attempt_id=attempt_id, graded_at__isnull=False)
        graded = submitted
        if written.exists():
            # Staff grade written answers within a day or so.
            graded = min(
                submitted + timedelta(hours=self.rng.randint(3, 30)),
                self.now - timedelta(minutes=10),
            )
            written.update(graded_at=graded)
        Attempt.objects.filter(pk=attempt_id).update(graded_at=graded)
        Certification.objects.filter(attempt_id=attempt_id).update(
            issued_at=graded, expires_at=add_months(graded, attempt.version.validity_months)
        )


def _agent_number(agent: User) -> int:
    return int(agent.email.removeprefix("agent").split("@")[0])


def _pool_speakers(brand: Brand, language: str, level: str, agent_languages) -> list[User]:
    """Approved pool agents who declare ``language`` at ``level`` or above."""
    members = (
        PoolMembership.objects.filter(brand=brand, status=PoolStatus.APPROVED)
        .select_related("agent")
        .order_by("agent__email")
    )
    return [
        m.agent for m in members if agent_languages.get(m.agent_id, {}).get(language, "") >= level
    ]


def _brand_admin(brand: Brand) -> User:
    return (
        BrandMembership.objects.filter(brand=brand, role=BrandRole.ADMIN)
        .select_related("user")
        .order_by("pk")
        .first()
        .user
    )


def seed_assessments(
    *, staff: User, agents: list[User], agent_languages: dict[int, dict[str, str]]
) -> int:
    """Load, require and take the demo assessments. Returns how many attempts
    were added (none on a second run)."""
    for path in sorted(CONTENT_DIR.glob("*.json")):
        load_file(path)
    assessments = {a.slug: a for a in Assessment.objects.all()}
    history = AssessmentHistory(staff=staff, rng=random.Random(2027))
    before = Attempt.objects.count()

    def untaken(agent: User, slug: str) -> bool:
        return not Attempt.objects.filter(agent=agent, assessment=assessments[slug]).exists()

    # Borealis: its Spanish speakers hold the certification it now requires,
    # at the level they declare (at least B2).
    borealis = Brand.objects.get(slug=BOREALIS)
    spanish_gig = Gig.objects.get(brand=borealis, title=BOREALIS_SPANISH_GIG)
    spanish = assessments[SPANISH]
    level_floor = max(SPANISH_LEVEL_REQUIRED, spanish_gig.min_language_level)
    for offset, agent in enumerate(_pool_speakers(borealis, "es", level_floor, agent_languages)):
        if untaken(agent, SPANISH):
            declared = agent_languages[agent.pk]["es"]
            history.take(
                agent,
                spanish,
                score=_level_midpoint(spanish, declared),
                days_ago=20 + 13 * offset,
            )
    admin = _brand_admin(borealis)
    if not BrandCertificationRequirement.objects.filter(
        brand=borealis, assessment=spanish
    ).exists():
        brand_certification_require(
            actor=admin, brand=borealis, assessment=spanish, min_level=SPANISH_LEVEL_REQUIRED
        )
    if not GigCertificationRequirement.objects.filter(gig=spanish_gig, assessment=spanish).exists():
        gig_certification_require(
            actor=admin, gig=spanish_gig, assessment=spanish, min_level=SPANISH_LEVEL_REQUIRED
        )

    # Acme: the agents who can work its German gear-advice gig passed its
    # product assessment, which that gig now requires.
    acme = Brand.objects.get(slug=ACME)
    gear_gig = Gig.objects.get(brand=acme, title=ACME_PRODUCT_GIG)
    product = assessments[ACME_PRODUCT]
    speakers = _pool_speakers(acme, gear_gig.language, gear_gig.min_language_level, agent_languages)
    for offset, agent in enumerate(speakers):
        if untaken(agent, ACME_PRODUCT):
            history.take(
                agent,
                product,
                score=ACME_PRODUCT_SCORES[offset % len(ACME_PRODUCT_SCORES)],
                days_ago=14 + 9 * offset,
            )
    if not GigCertificationRequirement.objects.filter(gig=gear_gig, assessment=product).exists():
        gig_certification_require(actor=_brand_admin(acme), gig=gear_gig, assessment=product)

    by_number = {_agent_number(agent): agent for agent in agents}
    for past in HISTORY:
        agent = by_number[past.agent]
        if untaken(agent, past.assessment):
            history.take(
                agent,
                assessments[past.assessment],
                score=past.score,
                days_ago=past.days_ago,
                graded=past.graded,
            )
    return Attempt.objects.count() - before
