"""Reads for brands, and the one way a request reaches a brand: ``access_brand``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from brands.business_hours import BusinessCalendar
from brands.models import (
    Brand,
    BrandHoliday,
    BrandMembership,
    BrandRole,
    BusinessHours,
    PoolMembership,
)
from gigs.models import Gig, GigStatus
from marketplace.errors import PermissionDenied

ALL_ROLES = tuple(BrandRole.values)


def memberships_for_user(user) -> QuerySet[BrandMembership]:
    if not user.is_authenticated:
        return BrandMembership.objects.none()
    return BrandMembership.objects.filter(user=user).select_related("brand")


def access_brand(user, slug: str, *, roles: Iterable[str] = ALL_ROLES) -> tuple[Brand, str]:
    """The brand ``slug`` and the user's role in it.

    Not a member: 404, so a brand's existence is not revealed. A member
    without one of ``roles``: PermissionDenied.
    """
    membership = memberships_for_user(user).filter(brand__slug=slug).first()
    if membership is None:
        raise Http404("No such brand.")
    if membership.role not in roles:
        raise PermissionDenied(
            f"Your role in {membership.brand} ({membership.get_role_display()}) "
            "does not allow this. Ask a brand admin."
        )
    return membership.brand, membership.role


# --- Agent pools --------------------------------------------------------------------


def pool_members(*, brand: Brand, status: str | None = None) -> QuerySet[PoolMembership]:
    """``brand``'s pool entries, optionally in one status, most recently changed first."""
    members = (
        PoolMembership.objects.for_brand(brand)
        .select_related("agent", "agent__agent_profile", "decided_by", "invited_by")
        .prefetch_related("agent__agent_profile__languages")
    )
    if status:
        members = members.filter(status=status)
    return members


def agent_pools(*, agent) -> QuerySet[PoolMembership]:
    """Every pool ``agent`` has applied to, been invited to, or been decided on."""
    return PoolMembership.objects.filter(agent=agent).select_related("brand")


@dataclass(frozen=True)
class OpenGigSummary:
    """What an agent browsing brands needs to know about a brand's open gigs."""

    gig_count: int
    languages: list[str]  # ISO 639-1 codes, sorted
    # (pay_model, currency) -> (lowest rate_minor, highest rate_minor)
    pay_ranges: dict[tuple[str, str], tuple[int, int]]


def brands_for_agents(*, agent) -> QuerySet[Brand]:
    """Brands an agent may browse: those with open (active) gigs, and those the
    agent already has a pool entry with, whatever their gigs."""
    return (
        Brand.objects.filter(Q(gigs__status=GigStatus.ACTIVE) | Q(pool_memberships__agent=agent))
        .distinct()
        .order_by("name", "id")
    )


def open_gig_summaries(*, brand_ids: Iterable[int]) -> dict[int, OpenGigSummary]:
    """Per brand: how many active gigs, in which languages, paying what."""
    rows = Gig.objects.filter(brand_id__in=list(brand_ids), status=GigStatus.ACTIVE).values_list(
        "brand_id", "language", "pay_model", "currency", "rate_minor"
    )
    counts: dict[int, int] = defaultdict(int)
    languages: dict[int, set[str]] = defaultdict(set)
    ranges: dict[int, dict[tuple[str, str], tuple[int, int]]] = defaultdict(dict)
    for brand_id, language, pay_model, currency, rate in rows:
        counts[brand_id] += 1
        languages[brand_id].add(language)
        low, high = ranges[brand_id].get((pay_model, currency), (rate, rate))
        ranges[brand_id][(pay_model, currency)] = (min(low, rate), max(high, rate))
    return {
        brand_id: OpenGigSummary(
            gig_count=count,
            languages=sorted(languages[brand_id]),
            pay_ranges=dict(sorted(ranges[brand_id].items())),
        )
        for brand_id, count in counts.items()
    }


# --- Business hours -----------------------------------------------------------------


def calendar_for(brand: Brand) -> BusinessCalendar:
    """The brand's business calendar for ``brands.business_hours``, in two queries.

    No hours rows: the calendar is open 24/7, holidays aside.
    """
    hours: dict[int, list] = defaultdict(list)
    for weekday, opens, closes in BusinessHours.objects.filter(brand=brand).values_list(
        "weekday", "opens", "closes"
    ):
        hours[weekday].append((opens, closes))
    holidays = frozenset(BrandHoliday.objects.filter(brand=brand).values_list("date", flat=True))
    return BusinessCalendar(time_zone=brand.time_zone, hours=dict(hours), holidays=holidays)


def business_hours_for(brand: Brand) -> dict[int, list[BusinessHours]]:
    """The brand's weekly intervals by weekday (0 = Monday), earliest first."""
    by_weekday: dict[int, list[BusinessHours]] = defaultdict(list)
    for row in BusinessHours.objects.filter(brand=brand).order_by("weekday", "opens"):
        by_weekday[row.weekday].append(row)
    return dict(by_weekday)


def holidays_for(brand: Brand) -> QuerySet[BrandHoliday]:
    return BrandHoliday.objects.filter(brand=brand).order_by("date")
