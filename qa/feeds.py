"""What QA feeds into the rest of Gigdesk: whether an agent's QA score keeps
them off a gig, how QA orders candidates within a tier, and the weekly QA
bonus paid to top-tier agents.

The bonus is money: it posts through the ledger (brand balance → agent
pending, as earnings do) with one idempotency key per gig, agent and ISO
week, so a rerun of any week posts nothing new. Only weeks that ended at
least ``BONUS_SETTLE_DAYS`` ago are paid, so late reviews and dispute
amendments of the week have settled first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus, PoolTier
from gigs.models import SessionOutcome, WorkRecord
from marketplace.audit import audit_record
from marketplace.errors import ValidationFailed
from payouts.earnings import round_half_up
from payouts.models import Earning, Purpose
from payouts.services import ledger_account, posting_create
from qa.models import BonusKind, GigQASettings
from qa.scoring import eligibility_reason
from qa.selectors import agent_qa_score, agent_qa_scores

BONUS_SETTLE_DAYS = 7
ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def eligibility(agent, gig, *, now: datetime | None = None) -> str | None:
    """Why the agent's QA score keeps them off ``gig`` (e.g. "QA 71.3 < 75 (12
    reviews, 30 d)"), or None when it does not or the gig sets no minimum."""
    minimum = GigQASettings.objects.filter(gig=gig).values_list("min_qa_score", flat=True).first()
    if minimum is None:
        return None
    now = now or timezone.now()
    return eligibility_reason(
        gig_score=agent_qa_score(agent=agent, gig=gig, now=now),
        overall=agent_qa_score(agent=agent, now=now),
        minimum=minimum,
    )


def ranking_signal(agent, gig, *, now: datetime | None = None) -> tuple:
    """A sort key for candidates of the same tier: ascending order puts the
    highest per-gig QA score first and unscored agents last."""
    score = agent_qa_score(agent=agent, gig=gig, now=now).score
    if score is None:
        return (1, 0)
    return (0, -score)


# --- the weekly bonus --------------------------------------------------------------------


def parse_iso_week(text: str) -> date:
    """The Monday of an ISO week written "2026-W48"."""
    match = ISO_WEEK.match(text.strip())
    if match is None:
        raise ValidationFailed(
            f"{text!r} is not an ISO week like 2026-W48.", fields={"week": "Use the form 2026-W48."}
        )
    year, week = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValidationFailed(
            f"{year} has no week {week}.", fields={"week": "Use the form 2026-W48."}
        ) from None


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_payable_week(now: datetime) -> str:
    """The latest ISO week that ended at least ``BONUS_SETTLE_DAYS`` ago."""
    settled = timezone.localtime(now).date() - timedelta(days=BONUS_SETTLE_DAYS)
    # The Sunday before ``settled``'s Monday: its week ended by ``settled``.
    return iso_week_label(settled - timedelta(days=settled.weekday() + 1))


@dataclass(frozen=True)
class BonusPaid:
    gig_id: int
    agent_id: int
    amount_minor: int
    currency: str
    idempotency_key: str
    posting_id: int
    created: bool


@dataclass
class BonusRun:
    week: str
    paid: list[BonusPaid] = field(default_factory=list)
    # (gig id, agent id, why not): top-tier agents checked and not paid.
    skipped: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def posted(self) -> list[BonusPaid]:
        return [bonus for bonus in self.paid if bonus.created]


def bonus_key(*, gig_id: int, agent_id: int, week: str) -> str:
    return f"qa-bonus:{gig_id}:{agent_id}:{week}"


def _week_bounds(monday: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(monday, datetime.min.time()))
    return start, start + timedelta(weeks=1)


def bonus_amount(settings: GigQASettings, *, agent, start: datetime, end: datetime) -> int:
    """The agent's bonus on the gig for the week, in minor units of the gig's currency.

    Fixed: the amount per resolved session. Multiplier: basis points of what
    the agent earned on the gig that week, half up.
    """
    gig = settings.gig
    if settings.bonus_kind == BonusKind.FIXED:
        resolved = WorkRecord.objects.filter(
            agent=agent,
            gig=gig,
            outcome=SessionOutcome.RESOLVED,
            ended_at__gte=start,
            ended_at__lt=end,
        ).count()
        return resolved * settings.bonus_fixed_minor
    if settings.bonus_kind == BonusKind.MULTIPLIER:
        earned = (
            Earning.objects.filter(
                agent=agent, gig=gig, earned_at__gte=start, earned_at__lt=end
            ).aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        return round_half_up(Fraction(earned * settings.bonus_multiplier_bps, 10_000))
    return 0


def _bonus_gigs():
    has_amount = Q(bonus_kind=BonusKind.FIXED, bonus_fixed_minor__gt=0) | Q(
        bonus_kind=BonusKind.MULTIPLIER, bonus_multiplier_bps__gt=0
    )
    return (
        GigQASettings.objects.filter(has_amount, bonus_threshold__isnull=False)
        .select_related("gig", "gig__brand")
        .order_by("gig_id")
    )


def bonus_run(iso_week: str, now: datetime | None = None, *, actor=None) -> BonusRun:
    """Pay the QA bonus of ``iso_week`` on every gig with a bonus configured.

    Top-tier (``PoolTier.TOP``), approved agents of the gig's brand whose
    per-gig QA score at the week's end is at or above the gig's threshold
    (a provisional score does not qualify) are paid. Refuses a week that
    ended less than ``BONUS_SETTLE_DAYS`` ago. Running it again posts nothing.
    Each posting is audited under ``actor`` (None: the weekly job).
    """
    from payouts.reservations import brand_balance_moved

    now = now or timezone.now()
    monday = parse_iso_week(iso_week)
    start, end = _week_bounds(monday)
    if end + timedelta(days=BONUS_SETTLE_DAYS) > now:
        raise ValidationFailed(
            f"Week {iso_week} is paid once it has been over for {BONUS_SETTLE_DAYS} days "
            f"(from {(end + timedelta(days=BONUS_SETTLE_DAYS)):%Y-%m-%d %H:%M}).",
            fields={"week": "Not payable yet."},
        )
    week = iso_week_label(monday)
    run = BonusRun(week=week)
    for settings in _bonus_gigs():
        gig = settings.gig
        top_agents = (
            PoolMembership.objects.filter(
                brand_id=gig.brand_id, status=PoolStatus.APPROVED, tier=PoolTier.TOP
            )
            .select_related("agent")
            .order_by("agent_id")
        )
        for membership in top_agents:
            agent = membership.agent
            score = agent_qa_score(agent=agent, gig=gig, now=end)
            if score.provisional or score.score is None:
                run.skipped.append((gig.pk, agent.pk, f"provisional: {score.describe()}"))
                continue
            if score.score < settings.bonus_threshold:
                run.skipped.append(
                    (gig.pk, agent.pk, f"QA {score.score} < {settings.bonus_threshold}")
                )
                continue
            amount = bonus_amount(settings, agent=agent, start=start, end=end)
            if amount <= 0:
                run.skipped.append((gig.pk, agent.pk, "nothing earned on the gig that week"))
                continue
            key = bonus_key(gig_id=gig.pk, agent_id=agent.pk, week=week)
            currency = gig.currency
            with transaction.atomic():
                # Idempotent: a rerun finds the key and returns the first posting.
                already = _posting_exists(key)
                posting = posting_create(
                    idempotency_key=key,
                    kind="qa.bonus",
                    lines=[
                        (
                            ledger_account(
                                purpose=Purpose.BRAND_BALANCE, currency=currency, brand=gig.brand
                            ),
                            -amount,
                        ),
                        (
                            ledger_account(
                                purpose=Purpose.AGENT_PENDING, currency=currency, agent=agent
                            ),
                            amount,
                        ),
                    ],
                    memo=f"QA bonus {week} on {gig.title} ({score.describe()})",
                    reference=f"gig:{gig.pk}",
                )
                if not already:
                    brand_balance_moved(brand_id=gig.brand_id, currency=currency, delta=-amount)
                    # Every bonus posted is audited, the weekly job's (no actor) and
                    # a staff member's run alike; a rerun posts and audits nothing.
                    audit_record(
                        actor=actor,
                        action="qa.bonus_posted",
                        target=posting,
                        brand=gig.brand,
                        changes={
                            "week": week,
                            "gig": gig.pk,
                            "agent": agent.pk,
                            "amount_minor": amount,
                            "currency": currency,
                            "score": str(score.score),
                        },
                    )
            run.paid.append(
                BonusPaid(
                    gig_id=gig.pk,
                    agent_id=agent.pk,
                    amount_minor=amount,
                    currency=currency,
                    idempotency_key=key,
                    posting_id=posting.pk,
                    created=not already,
                )
            )
    return run


def _posting_exists(key: str) -> bool:
    from payouts.models import Posting

    return Posting.objects.filter(idempotency_key=key).exists()


def agent_gig_eligibility(agent, gigs, *, now: datetime | None = None, scores=None) -> list[tuple]:
    """(gig, reason or None) for each gig: for the agent's own QA page to show
    which gigs their QA score keeps them off and why. Two queries however many
    gigs: their minimums, and the agent's scores (``eligibility`` per gig would
    cost three each); one when the caller passes the ``agent_qa_scores`` it
    already read."""
    now = now or timezone.now()
    minimums = dict(
        GigQASettings.objects.filter(gig__in=gigs, min_qa_score__isnull=False).values_list(
            "gig_id", "min_qa_score"
        )
    )
    if not minimums:
        return [(gig, None) for gig in gigs]
    if scores is None:
        scores = agent_qa_scores(agent=agent, now=now)
    return [
        (
            gig,
            eligibility_reason(
                gig_score=scores.on_gig(gig.pk),
                overall=scores.overall,
                minimum=minimums.get(gig.pk),
            ),
        )
        for gig in gigs
    ]


# --- the staff bonus page ------------------------------------------------------------------


def bonus_gig_settings(*, user):
    """The QA settings of every gig with a bonus configured that ``user`` may see."""
    return _bonus_gigs().filter(pk__in=GigQASettings.objects.for_user(user).values("pk"))


def bonus_run_by(*, actor, iso_week: str, now: datetime | None = None, request=None) -> BonusRun:
    """A staff member pays the QA bonus of ``iso_week`` now, instead of waiting
    for the weekly job; a run that posted something is audited under their name.

    Each bonus posts in its own transaction, as in ``bonus_run``, so one run
    never holds every brand's and agent's ledger lock at once; the audit row,
    written after, names the postings this run made.
    """
    from marketplace.errors import PermissionDenied

    if not (actor.is_authenticated and actor.is_active and actor.is_staff):
        raise PermissionDenied("Only platform staff can pay the QA bonus.")
    run = bonus_run(iso_week, now, actor=actor)
    if run.posted:
        totals: dict[str, int] = {}
        for bonus in run.posted:
            totals[bonus.currency] = totals.get(bonus.currency, 0) + bonus.amount_minor
        audit_record(
            actor=actor,
            action="qa.bonus_paid",
            changes={
                "week": run.week,
                "postings": [bonus.posting_id for bonus in run.posted],
                "total_minor": totals,
            },
            request=request,
        )
    return run
