"""Reads for the pool console: a brand's pool members with their standing and
recent figures in that brand, one page at a time.

Each figure is read for the whole page at once (one query per source, never
one per agent), so the page costs the same number of queries for 10 members
as for 10,000. Figures are the brand's own: another brand's work, QA or
earnings never show up here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from analytics.selectors import Figures, figures_by, metric_hours
from assessments.models import Assessment, Certification
from brands.models import Brand, PoolMembership
from gigs.models import TaskEvent, WorkSession
from marketplace.models import AgentLanguage, AvailabilitySlot
from payouts.models import Earning, EarningStatus

# The window of the QA, CSAT and utilisation columns.
FIGURES_DAYS = 30


@dataclass(frozen=True)
class ConsoleFilter:
    """What the console lists; empty values do not narrow."""

    status: str = ""
    tier: int | None = None
    language: str = ""
    # A platform or brand assessment the agent holds an unexpired certification of.
    assessment: Assessment | None = None
    search: str = ""


@dataclass
class ConsoleRow:
    """One pool member as the console shows them."""

    membership: PoolMembership
    certifications: list[Certification] = field(default_factory=list)
    figures: Figures = field(default_factory=Figures)
    scheduled_seconds: int = 0
    last_active: datetime | None = None
    # (currency, amount_minor), currencies sorted: never added across currencies.
    earnings: list[tuple[str, int]] = field(default_factory=list)

    @property
    def engaged_seconds(self) -> int:
        return self.figures.engaged_seconds

    @property
    def utilisation(self) -> float | None:
        """Engaged seconds in this brand ÷ the agent's scheduled availability,
        in percent; ``None`` when the agent has no availability on file."""
        if not self.scheduled_seconds:
            return None
        return round(100 * self.engaged_seconds / self.scheduled_seconds, 1)


def pool_console_assessments(*, brand: Brand) -> QuerySet[Assessment]:
    """Assessments whose certifications the console shows and filters on: the
    platform's and the brand's own (another brand's stay private to it)."""
    return Assessment.objects.filter(Q(brand__isnull=True) | Q(brand=brand)).order_by("title", "pk")


def pool_console_languages(*, brand: Brand) -> list[str]:
    """Language codes spoken by someone in ``brand``'s pool: the language filter's choices."""
    return list(
        AgentLanguage.objects.filter(profile__user__pool_memberships__brand=brand)
        .order_by("language")
        .values_list("language", flat=True)
        .distinct()
    )


def _valid_certifications(*, brand: Brand, at: datetime) -> QuerySet[Certification]:
    return Certification.objects.valid_at(at).filter(
        Q(assessment__brand__isnull=True) | Q(assessment__brand=brand)
    )


def pool_console_members(
    *, brand: Brand, filters: ConsoleFilter, at: datetime
) -> QuerySet[PoolMembership]:
    """``brand``'s pool entries (every status) narrowed by ``filters``, best tier
    first, then by email so that pages are stable."""
    members = PoolMembership.objects.for_brand(brand).select_related(
        "agent", "agent__agent_profile"
    )
    if filters.status:
        members = members.filter(status=filters.status)
    if filters.tier is not None:
        members = members.filter(tier=filters.tier)
    if filters.language:
        members = members.filter(agent__agent_profile__languages__language=filters.language)
    if filters.assessment is not None:
        held = _valid_certifications(brand=brand, at=at).filter(
            agent_id=OuterRef("agent_id"), assessment=filters.assessment
        )
        members = members.filter(Exists(held))
    search = filters.search.strip()
    if search:
        members = members.filter(
            Q(agent__email__icontains=search)
            | Q(agent__full_name__icontains=search)
            | Q(agent__agent_profile__display_name__icontains=search)
        )
    # A language join cannot repeat a member (one level per language), so no distinct().
    return members.order_by("-tier", "agent__email", "pk")


def scheduled_seconds_between(slots: Sequence[AvailabilitySlot], first: date, days: int) -> int:
    """Seconds of weekly availability ``slots`` over ``days`` local days from ``first``.

    Slots are wall-clock windows in the agent's zone, so a DST night counts
    the window's length as written.
    """
    per_weekday: dict[int, int] = defaultdict(int)
    for slot in slots:
        start = slot.starts_at.hour * 3600 + slot.starts_at.minute * 60 + slot.starts_at.second
        end = slot.ends_at.hour * 3600 + slot.ends_at.minute * 60 + slot.ends_at.second
        per_weekday[slot.weekday] += end - start
    return sum(per_weekday[(first + timedelta(days=offset)).weekday()] for offset in range(days))


def pool_console_rows(
    *, brand: Brand, memberships: Sequence[PoolMembership], at: datetime
) -> list[ConsoleRow]:
    """The console's figures for one page of ``memberships`` of ``brand``.

    QA, CSAT and engaged time come from the hourly roll-ups of the last
    ``FIGURES_DAYS`` days; earnings are every earning from this brand not
    clawed back; last active is the latest work session or task event of the
    agent in this brand. One query per source.
    """
    rows = {m.agent_id: ConsoleRow(membership=m) for m in memberships}
    if not rows:
        return []
    agent_ids = list(rows)
    since = at - timedelta(days=FIGURES_DAYS)

    for cert in (
        _valid_certifications(brand=brand, at=at)
        .filter(agent_id__in=agent_ids)
        .select_related("assessment")
        .order_by("assessment__title", "-issued_at")
    ):
        held = rows[cert.agent_id].certifications
        # The newest certification per assessment only.
        if not any(c.assessment_id == cert.assessment_id for c in held):
            held.append(cert)

    recent = metric_hours(start=since, end=at, brand_ids=[brand.pk], agent_ids=agent_ids)
    for agent_id, agent_figures in figures_by(recent, "agent_id").items():
        rows[agent_id].figures = agent_figures

    slots_by_agent: dict[int, list[AvailabilitySlot]] = defaultdict(list)
    for slot in AvailabilitySlot.objects.filter(profile__user_id__in=agent_ids).annotate(
        agent_id=F("profile__user_id"), zone=F("profile__time_zone")
    ):
        slots_by_agent[slot.agent_id].append(slot)
    for agent_id, slots in slots_by_agent.items():
        first = since.astimezone(ZoneInfo(slots[0].zone)).date()
        rows[agent_id].scheduled_seconds = scheduled_seconds_between(slots, first, FIGURES_DAYS)

    sessions = (
        WorkSession.objects.filter(brand=brand, agent_id__in=agent_ids)
        .order_by()
        .values("agent_id")
        .annotate(latest=Max(Coalesce("ended_at", "last_heartbeat_at")))
    )
    events = (
        TaskEvent.objects.filter(brand=brand, agent_id__in=agent_ids)
        .order_by()
        .values("agent_id")
        .annotate(latest=Max("occurred_at"))
    )
    for item in [*sessions, *events]:
        row = rows[item["agent_id"]]
        if item["latest"] and (row.last_active is None or item["latest"] > row.last_active):
            row.last_active = item["latest"]

    earned = (
        Earning.objects.filter(brand=brand, agent_id__in=agent_ids)
        .exclude(status=EarningStatus.CLAWED_BACK)
        .order_by("currency")
        .values("agent_id", "currency")
        .annotate(amount=Sum("amount_minor"))
    )
    for item in earned:
        rows[item["agent_id"]].earnings.append((item["currency"], item["amount"]))

    return [rows[m.agent_id] for m in memberships]
