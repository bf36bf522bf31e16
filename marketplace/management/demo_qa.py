"""The demo world's QA, for ``seed_demo``.

Acme Outdoors gets a published scorecard (the issue's worked example), a
draft one to publish in the browser, a second QA reviewer, and a review
queue filled by the real intake (sampling and AutoQA) from its closed tasks.
A history of reviews is scored through the real services and then moved
back in time, as ``seed_demo`` does with tasks: agent02 has earned a
promotion, agent04 a demotion. "The example task" waits in the queue,
unassigned, for a tester to score: rated as the worked example, it scores
72.0, and AutoQA flags the card number the agent repeated.

The reviewed gig pays a QA bonus, and agent10, set to the top tier by
Acme's admin, earned it in the latest payable week (over for 7 days when
the demo is seeded): paying that week pays agent10 once, and paying it again
posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from brands.models import Brand, BrandMembership, BrandRole, PoolMembership, PoolTier
from gigs.models import Gig, Message, MessageKind, SessionOutcome, Task, TaskStatus
from marketplace.models import AccountType, User
from qa.feeds import last_payable_week, parse_iso_week
from qa.intake import CLOSED_STATUSES, qa_task_closed
from qa.models import (
    BonusKind,
    Review,
    ReviewAssignment,
    ReviewRevision,
    SamplingReason,
    Scorecard,
    TierChange,
)
from qa.scorecards import (
    brand_qa_settings_update,
    gig_qa_settings_update,
    scorecard_category_add,
    scorecard_create,
    scorecard_publish,
)
from qa.services import assignment_assign, assignment_create_for_task, review_submit
from qa.tiers import tier_override

ACME = "acme-outdoors"
REVIEWED_GIG = "Order & delivery questions (EN)"
ACME_SCORECARD = "Acme support quality"
ACME_DRAFT_SCORECARD = "Acme chat quality"
PLATFORM_SCORECARD = "Gigdesk standard support"
EXAMPLE_SUBJECT = "Example: double charge on order 58213"
EXAMPLE_EXTERNAL_ID = "demo-qa-example"
SECOND_REVIEWER = ("qa2@acme.demo", "Lea Brandt")
# Agents below this QA score on the reviewed gig are not offered its tasks.
REVIEWED_GIG_MIN_QA = 75
# The reviewed gig's QA bonus: €0.50 per resolution for top-tier agents at QA 85 or more.
REVIEWED_GIG_BONUS_MINOR = 50
REVIEWED_GIG_BONUS_THRESHOLD = 85
BONUS_AGENT = 10
BONUS_AGENT_TIER_REASON = (
    "Top tier: months of careful, friendly answers on order and delivery questions."
)

# The worked example: Greeting yes, Understanding 4, Solution 3, Tone 2,
# Data protection yes, Upsell N/A scores (95/12)/11 = 72.0.
# Keys match AutoQA's category hints (``qa.autoqa.CATEGORY_HINTS``), so its
# findings show beside their category on the review page.
ACME_CATEGORIES = [
    {
        "key": "greeting",
        "name": "Greeting",
        "scale": "binary",
        "weight": 1,
        "description": "Greets the customer by name and thanks them for getting in touch.",
    },
    {
        "key": "understanding",
        "name": "Understanding",
        "scale": "5",
        "weight": 3,
        "description": "Finds out what the customer needs without making them repeat it.",
    },
    {
        "key": "solution",
        "name": "Solution",
        "scale": "4",
        "weight": 4,
        "description": "Solves the problem correctly and completely, following Acme policy.",
    },
    {
        "key": "tone",
        "name": "Tone",
        "scale": "3",
        "weight": 2,
        "description": "Warm, clear and calm; no jargon.",
    },
    {
        "key": "data_protection",
        "name": "Data protection",
        "scale": "binary",
        "weight": 1,
        "critical": True,
        "description": "Never repeats card numbers, passwords or other customers' data.",
    },
    {
        "key": "upsell",
        "name": "Upsell",
        "scale": "binary",
        "weight": 2,
        "allow_na": True,
        "description": "Suggests a fitting product where it helps the customer; "
        "N/A when nothing fits.",
    },
]
ACME_DRAFT_CATEGORIES = [
    {"key": "response_speed", "name": "Response speed", "scale": "3", "weight": 2},
    {"key": "product_knowledge", "name": "Product knowledge", "scale": "5", "weight": 3},
]
PLATFORM_CATEGORIES = [
    {"key": "greeting", "name": "Greeting", "scale": "binary", "weight": 1},
    {"key": "resolution", "name": "Resolution", "scale": "4", "weight": 4},
    {"key": "tone", "name": "Tone", "scale": "3", "weight": 2},
    {
        "key": "data_protection",
        "name": "Data protection",
        "scale": "binary",
        "weight": 1,
        "critical": True,
    },
]
GREETINGS = ["hi", "hello", "thanks for contacting", "thanks for reaching out"]
CLOSINGS = ["anything else", "have a great day"]

KEYS = ("greeting", "understanding", "solution", "tone", "data_protection", "upsell")


@dataclass(frozen=True)
class PastReview:
    agent: int  # the demo agent's number (agentNN@gigdesk.demo)
    days_ago: int
    # Greeting, Understanding, Solution, Tone, Data protection, Upsell (None: N/A).
    ratings: tuple[int, int, int, int, int, int | None]
    comment: str = ""


# agent02: ten reviews of 90 or more and no critical fail, so the tier job
# promotes them. agent04: a critical fail and low scores, so it demotes them.
HISTORY = [
    PastReview(2, 20, (1, 5, 4, 3, 1, 1), "Textbook: clear, kind and complete."),
    PastReview(2, 18, (1, 4, 4, 3, 1, 1)),
    PastReview(2, 16, (1, 5, 4, 2, 1, None)),
    PastReview(2, 14, (1, 5, 4, 3, 1, None)),
    PastReview(2, 12, (1, 4, 4, 3, 1, 1)),
    PastReview(2, 10, (1, 5, 4, 3, 1, 1)),
    PastReview(2, 8, (1, 5, 4, 2, 1, None)),
    PastReview(2, 6, (1, 5, 4, 3, 1, 1), "Great save on a late parcel."),
    PastReview(2, 4, (1, 4, 4, 3, 1, 1)),
    PastReview(2, 2, (1, 5, 4, 3, 1, None)),
    PastReview(4, 19, (1, 3, 2, 2, 0, 0), "Read the customer's full card number back."),
    PastReview(4, 15, (1, 3, 3, 2, 1, 0)),
    PastReview(4, 11, (0, 4, 3, 2, 1, None), "No greeting; jumped straight in."),
    PastReview(4, 7, (1, 4, 3, 2, 1, 1)),
    PastReview(4, 3, (1, 3, 2, 3, 1, 0), "The refund policy was explained wrongly."),
    PastReview(1, 17, (1, 4, 3, 3, 1, 1)),
    PastReview(1, 9, (1, 5, 3, 2, 1, None)),
    PastReview(10, 13, (1, 5, 4, 3, 1, 1)),
    PastReview(10, 5, (1, 4, 4, 2, 1, 0)),
]

# agent10's reviews around the latest payable week, by day from its Monday
# (negative: the weeks before), all 90 or more: a per-gig QA score well over
# the bonus threshold at the week's end, and resolutions inside the week.
BONUS_HISTORY = [
    (-9, (1, 5, 4, 3, 1, 1), "Calm and complete with an upset customer."),
    (-6, (1, 4, 4, 3, 1, 1), ""),
    (-4, (1, 5, 4, 3, 1, None), ""),
    (-2, (1, 5, 4, 2, 1, None), ""),
    (1, (1, 5, 4, 3, 1, 1), "Spotted the wrong address before the parcel left."),
    (3, (1, 4, 4, 3, 1, 1), ""),
]

HISTORY_CONVERSATIONS = [
    (
        "Where is my order?",
        "Hi, my tent order has not moved in tracking for four days. Can you check?",
        "Hi, thanks for contacting Acme Outdoors! The carrier had a delay at the depot; "
        "your tent is moving again and arrives on Friday.",
        "Is there anything else I can help you with? Have a great day!",
    ),
    (
        "Wrong size delivered",
        "The hiking boots arrived in size 42 but I ordered 43.",
        "Hello, thanks for contacting us! I've sent you a free return label and reserved "
        "a pair in 43 for you.",
        "Anything else I can do for you today?",
    ),
    (
        "Discount code rejected",
        "The code SPRING15 says it is invalid at checkout.",
        "Hi! SPRING15 ended on Sunday, but I've applied 15 % to your basket by hand.",
        "Have a great day on the trail!",
    ),
]

EXAMPLE_CONVERSATION = [
    (MessageKind.CUSTOMER, "Hi, my card statement shows the same charge twice for order 58213."),
    (
        MessageKind.AGENT,
        "Hello, thanks for contacting Acme Outdoors! I'm sorry about the double charge; "
        "let me look at order 58213.",
    ),
    (MessageKind.CUSTOMER, "Thanks. The card is 4111 1111 1111 1111 if that helps."),
    (
        MessageKind.AGENT,
        "I can see both payments on 4111 1111 1111 1111: the second is a duplicate "
        "authorisation and I've asked our payments team to release it. It disappears "
        "within 5 working days.",
    ),
    (MessageKind.CUSTOMER, "Ok."),
]

# seed_demo's own helpers: its user factory (shared password) and its work recorder.
MakeUser = Callable[[str, str, str], User]
RecordWork = Callable[..., None]


def seed_qa(*, staff: User, agents: list[User], make_user: MakeUser, work: RecordWork) -> int:
    """Build the QA demo world once; returns how many reviews it submitted
    (0 when it already exists)."""
    brand = Brand.objects.get(slug=ACME)
    admin = BrandMembership.objects.get(brand=brand, user__email="admin@acme.demo").user
    reviewer = BrandMembership.objects.get(brand=brand, user__email="qa@acme.demo").user
    email, name = SECOND_REVIEWER
    second = make_user(email, name, AccountType.BRAND)
    BrandMembership.objects.get_or_create(
        brand=brand, user=second, defaults={"role": BrandRole.QA_REVIEWER}
    )
    if Scorecard.objects.filter(brand=brand, name=ACME_SCORECARD).exists():
        return 0
    _platform_default(staff)
    scorecard = _scorecard(admin, brand, ACME_SCORECARD, ACME_CATEGORIES, publish=True)
    _scorecard(admin, brand, ACME_DRAFT_SCORECARD, ACME_DRAFT_CATEGORIES, publish=False)
    brand_qa_settings_update(
        actor=admin,
        brand=brand,
        hide_reviewer_identity=True,
        greeting_phrases=GREETINGS,
        closing_phrases=CLOSINGS,
    )
    reviewed_gig = Gig.objects.get(brand=brand, title=REVIEWED_GIG)
    for gig in Gig.objects.filter(brand=brand).order_by("pk"):
        settings = {"scorecard": scorecard}
        if gig == reviewed_gig:
            settings.update(
                min_qa_score=REVIEWED_GIG_MIN_QA,
                bonus_kind=BonusKind.FIXED,
                bonus_fixed_minor=REVIEWED_GIG_BONUS_MINOR,
                bonus_threshold=REVIEWED_GIG_BONUS_THRESHOLD,
            )
        gig_qa_settings_update(actor=admin, gig=gig, **settings)
    # The intake a task's close runs, for the closed tasks seed_demo wrote directly.
    closed = Task.objects.filter(
        brand=brand, status__in=CLOSED_STATUSES, holder__isnull=False
    ).order_by("closed_at", "pk")
    for task in closed:
        qa_task_closed(task)
    _mark_one_overdue(brand)
    submitted = _history(reviewed_gig, agents, reviewer, work)
    submitted += _bonus_history(reviewed_gig, agents[BONUS_AGENT - 1], admin, reviewer, work)
    _example_task(reviewed_gig, agents[0], work)
    return submitted


def _scorecard(actor, brand, name, categories, *, publish: bool) -> Scorecard:
    scorecard = scorecard_create(actor=actor, brand=brand, name=name, pass_mark=80)
    version = scorecard.draft_version()
    for category in categories:
        scorecard_category_add(actor=actor, version=version, **category)
    if publish:
        scorecard_publish(actor=actor, version=version)
    return scorecard


def _platform_default(staff: User) -> None:
    """The scorecard gigs without their own choice are scored on."""
    if Scorecard.objects.filter(is_default=True).exists():
        return
    scorecard = _scorecard(staff, None, PLATFORM_SCORECARD, PLATFORM_CATEGORIES, publish=True)
    # No service names the default: it is chosen once, when the platform is set up.
    Scorecard.objects.filter(pk=scorecard.pk).update(is_default=True)


def _mark_one_overdue(brand: Brand) -> None:
    """One assignment (an escalation, if the queue has one) has waited past its SLA."""
    queue = list(ReviewAssignment.objects.open().filter(brand=brand).order_by("pk"))
    if not queue:
        return
    assignment = next((a for a in queue if SamplingReason.ESCALATION in a.reasons), queue[0])
    assigned_at = timezone.now() - timedelta(hours=60)
    ReviewAssignment.objects.filter(pk=assignment.pk).update(
        assigned_at=assigned_at, due_at=assigned_at + (assignment.due_at - assignment.assigned_at)
    )


def _closed_task(
    gig: Gig,
    agent: User,
    *,
    external_id: str,
    subject: str,
    customer_reference: str,
    conversation: list[tuple[str, str]],
    closed_at,
    csat: int | None,
    work: RecordWork,
) -> Task:
    """A task the agent resolved, with its conversation and the work behind it."""
    task = Task.objects.create(
        brand=gig.brand,
        gig=gig,
        subject=subject,
        customer_reference=customer_reference,
        language=gig.language,
        external_id=external_id,
        status=TaskStatus.RESOLVED,
    )
    step = timedelta(minutes=3)
    created_at = closed_at - step * (len(conversation) + 4)
    claimed_at = created_at + step
    messages = []
    for i, (kind, body) in enumerate(conversation):
        is_agent = kind == MessageKind.AGENT
        messages.append(
            (
                Message(
                    task=task,
                    brand=gig.brand,
                    kind=kind,
                    author=agent if is_agent else None,
                    author_name=agent.full_name if is_agent else "Customer",
                    body=body,
                ),
                claimed_at + step * (i + 1),
            )
        )
    Message.objects.bulk_create([message for message, _ in messages])
    for message, at in messages:
        Message.objects.filter(pk=message.pk).update(created_at=at)
    fields = {
        "holder": agent,
        "created_at": created_at,
        "claimed_at": claimed_at,
        "closed_at": closed_at,
        "resolved_at": closed_at,
        "resolution_code": "answered",
        "updated_at": closed_at,
    }
    if csat is not None:
        fields.update(csat_score=csat, csat_at=closed_at + timedelta(minutes=5))
    Task.objects.filter(pk=task.pk).update(**fields)
    task.refresh_from_db()
    work(task, gig, agent, claimed_at, closed_at, SessionOutcome.RESOLVED, "answered")
    return task


def _history(gig: Gig, agents: list[User], reviewer: User, work: RecordWork) -> int:
    """Tasks reviewed by the brand's QA reviewer over the last three weeks."""
    now = timezone.now()
    for n, past in enumerate(HISTORY, start=1):
        _reviewed_task(
            gig,
            agents[past.agent - 1],
            reviewer,
            n=n,
            external_id=f"demo-qa-{n:03d}",
            closed_at=now - timedelta(days=past.days_ago, hours=4),
            ratings=past.ratings,
            comment=past.comment,
            work=work,
        )
    return len(HISTORY)


def _bonus_history(gig: Gig, agent: User, admin: User, reviewer: User, work: RecordWork) -> int:
    """agent10 at the top tier, with the reviews and resolutions that earn the
    bonus of the latest week payable now."""
    monday = parse_iso_week(last_payable_week(timezone.now()))
    week_start = timezone.make_aware(datetime.combine(monday, datetime.min.time()))
    for n, (day, ratings, comment) in enumerate(BONUS_HISTORY, start=len(HISTORY) + 1):
        _reviewed_task(
            gig,
            agent,
            reviewer,
            n=n,
            external_id=f"demo-qa-bonus-{n:03d}",
            closed_at=week_start + timedelta(days=day, hours=11),
            ratings=ratings,
            comment=comment,
            work=work,
        )
    membership = PoolMembership.objects.get(brand=gig.brand, agent=agent)
    change = tier_override(
        actor=admin, membership=membership, tier=PoolTier.TOP, reason=BONUS_AGENT_TIER_REASON
    )
    # Top tier since before the reviewed weeks, as the admin would have set it then.
    moved_at = week_start - timedelta(days=12, hours=-10)
    TierChange.objects.filter(pk=change.pk).update(created_at=moved_at)
    if membership.decided_at is None or membership.decided_at > moved_at:
        PoolMembership.objects.filter(pk=membership.pk).update(
            decided_at=moved_at - timedelta(days=3)
        )
    return len(BONUS_HISTORY)


def _reviewed_task(
    gig: Gig,
    agent: User,
    reviewer: User,
    *,
    n: int,
    external_id: str,
    closed_at,
    ratings,
    comment: str,
    work: RecordWork,
) -> Review:
    """A task the agent resolved at ``closed_at``, reviewed by ``reviewer`` 3 hours later."""
    subject, opening, answer, closing = HISTORY_CONVERSATIONS[n % len(HISTORY_CONVERSATIONS)]
    task = _closed_task(
        gig,
        agent,
        external_id=external_id,
        subject=subject,
        customer_reference=f"CUST-{41000 + n * 37}",
        conversation=[
            (MessageKind.CUSTOMER, opening),
            (MessageKind.AGENT, answer),
            (MessageKind.CUSTOMER, "Great, thank you!"),
            (MessageKind.AGENT, closing),
        ],
        closed_at=closed_at,
        csat=5 if sum(r or 0 for r in ratings) >= 13 else None,
        work=work,
    )
    assignment = qa_task_closed(task) or assignment_create_for_task(
        task=task, reasons=[SamplingReason.MANUAL], actor=reviewer
    )
    assignment = assignment_assign(actor=reviewer, assignment=assignment, reviewer=reviewer)
    review = review_submit(
        reviewer=reviewer,
        assignment=assignment,
        ratings=dict(zip(KEYS, ratings, strict=True)),
        overall_comment=comment,
    )
    _move_back(review, assignment, closed_at)
    return review


def _move_back(review: Review, assignment: ReviewAssignment, closed_at) -> None:
    """Give a review written now the dates it would have had."""
    assigned_at = closed_at + timedelta(minutes=30)
    submitted_at = closed_at + timedelta(hours=3)
    ReviewAssignment.objects.filter(pk=assignment.pk).update(
        assigned_at=assigned_at,
        due_at=assigned_at + (assignment.due_at - assignment.assigned_at),
        reviewer_set_at=assigned_at,
        submitted_at=submitted_at,
    )
    Review.objects.filter(pk=review.pk).update(
        created_at=assigned_at, updated_at=submitted_at, submitted_at=submitted_at
    )
    ReviewRevision.objects.filter(review=review).update(created_at=submitted_at)


def _example_task(gig: Gig, agent: User, work: RecordWork) -> Task:
    """The task a tester scores: queued by AutoQA's leak check, nobody's yet."""
    task = _closed_task(
        gig,
        agent,
        external_id=EXAMPLE_EXTERNAL_ID,
        subject=EXAMPLE_SUBJECT,
        customer_reference="CUST-58213",
        conversation=EXAMPLE_CONVERSATION,
        closed_at=timezone.now() - timedelta(hours=3),
        csat=2,
        work=work,
    )
    assignment = qa_task_closed(task)
    # Queued when it closed, so it sits near the top of the queue, due first after the overdue one.
    assigned_at = task.closed_at + timedelta(minutes=1)
    ReviewAssignment.objects.filter(pk=assignment.pk).update(
        assigned_at=assigned_at, due_at=assigned_at + (assignment.due_at - assignment.assigned_at)
    )
    return task
