"""The weekly digest: one email per brand admin and brand with last week's key
figures against the week before, and a link to the brand's dashboard.

Weeks are ISO weeks (Monday to Sunday) in the brand's time zone. The job runs
hourly on Mondays and Tuesdays (UTC, ``analytics.tasks``); a brand's digest
goes out at the first run once it is Monday ``SEND_HOUR``:00 or later in the
brand's zone, so every zone gets a complete week in its own morning.

Each (admin, brand, week) is sent at most once: ``DigestSent`` is written in
the transaction that sends, so a rerun finds it and sends nothing. Admins opt
out per brand (``DigestPreference``) from the email's signed link, which
needs no login, or from the settings page; both are audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics.exports import percent_text
from analytics.models import DigestPreference, DigestSent
from analytics.platform import brand_dashboard_path
from analytics.selectors import Figures, Period, change, figures, metric_days
from brands.models import Brand, BrandMembership, BrandRole
from marketplace.audit import audit_record
from marketplace.errors import NotFound, PermissionDenied
from marketplace.models import User
from marketplace.money import money_format

logger = logging.getLogger(__name__)

# Local hour on Monday from which a brand's digest is due.
SEND_HOUR = 6
UNSUBSCRIBE_SALT = "analytics.digest.unsubscribe"


# --- the week and who gets it -------------------------------------------------------------


def digest_week(*, brand: Brand, now: datetime) -> Period:
    """The last complete ISO week in the brand's zone as of ``now``."""
    zone = ZoneInfo(brand.time_zone)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(days=7), monday - timedelta(days=1), zone)


def digest_due(*, brand: Brand, now: datetime) -> bool:
    """Whether this week's digest is due: Monday ``SEND_HOUR``:00 has passed locally."""
    local = now.astimezone(ZoneInfo(brand.time_zone))
    return local.weekday() > 0 or local.hour >= SEND_HOUR


def digest_recipients(*, brand: Brand, week: Period | None = None) -> QuerySet[User]:
    """The brand's admins with a verified address who have not unsubscribed;
    with ``week``, only those not yet sent that week's digest."""
    admins = BrandMembership.objects.filter(brand=brand, role=BrandRole.ADMIN)
    verified = EmailAddress.objects.filter(
        user=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True
    )
    unsubscribed = DigestPreference.objects.filter(
        user=OuterRef("pk"), brand=brand, weekly_digest=False
    )
    users = (
        User.objects.filter(is_active=True, pk__in=admins.values("user_id"))
        .filter(Exists(verified))
        .exclude(Exists(unsubscribed))
    )
    if week is not None:
        sent = DigestSent.objects.filter(user=OuterRef("pk"), brand=brand, week=week.first)
        users = users.exclude(Exists(sent))
    return users.order_by("pk")


# --- the content ----------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class DigestLine:
    """One figure: this week, the week before, and the change in percent."""

    key: str
    label: str
    current: str
    previous: str
    change: float | None

    @property
    def change_display(self) -> str:
        return "" if self.change is None else f"{self.change:+.1f}%"


# (key, label, how to read it from Figures, how to show it)
LINES = (
    ("tasks", "Tasks", lambda f: f.created, str),
    ("wait", "Average wait", lambda f: f.wait_avg, _duration),
    ("first_response", "Average first response", lambda f: f.first_response_avg, _duration),
    ("resolution_rate", "Resolution rate", lambda f: f.resolution_rate, percent_text),
    ("csat", "CSAT (rated 4–5)", lambda f: f.csat_rate, percent_text),
    ("qa", "QA average", lambda f: f.qa_avg, _number),
    ("sla_hit_rate", "SLA hit rate", lambda f: f.sla_hit_rate, percent_text),
    ("sla_breaches", "SLA breaches", lambda f: f.sla_breaches, str),
)


@dataclass
class Digest:
    brand: Brand
    week: Period
    current: Figures
    previous: Figures
    lines: list[DigestLine] = field(default_factory=list)

    @property
    def dashboard_url(self) -> str:
        query = f"?start={self.week.first.isoformat()}&end={self.week.last.isoformat()}"
        return settings.SITE_URL + brand_dashboard_path(self.brand) + query

    @property
    def subject(self) -> str:
        return f"{self.brand.name}: your week of {self.week.first:%d %b %Y} on Gigdesk"


def digest_build(*, brand: Brand, week: Period) -> Digest:
    """Last week's figures of ``brand`` against the week before (two queries)."""
    before = week.previous()
    current = figures(metric_days(first=week.first, last=week.last, brand_ids=[brand.pk]))
    previous = figures(metric_days(first=before.first, last=before.last, brand_ids=[brand.pk]))
    lines = [
        DigestLine(
            key,
            label,
            show(read(current)),
            show(read(previous)),
            change(read(current), read(previous)),
        )
        for key, label, read, show in LINES
    ]
    for currency in sorted(set(current.currencies) | set(previous.currencies)):
        now_spent = current.money.get(currency, {}).get("spend_minor", 0)
        then_spent = previous.money.get(currency, {}).get("spend_minor", 0)
        lines.append(
            DigestLine(
                f"spend_{currency.lower()}",
                f"Spend ({currency})",
                money_format(now_spent, currency),
                money_format(then_spent, currency),
                change(now_spent, then_spent),
            )
        )
    return Digest(brand=brand, week=week, current=current, previous=previous, lines=lines)


# --- unsubscribing ------------------------------------------------------------------------


def digest_unsubscribe_token(*, user: User, brand: Brand) -> str:
    return signing.dumps({"user": user.pk, "brand": brand.pk}, salt=UNSUBSCRIBE_SALT)


def digest_unsubscribe_url(*, user: User, brand: Brand) -> str:
    token = digest_unsubscribe_token(user=user, brand=brand)
    return settings.SITE_URL + reverse("frontend:digest_unsubscribe", args=[token])


def digest_token_read(*, token: str) -> tuple[User, Brand]:
    """The admin and brand of an unsubscribe link. The link never expires (an
    old email must still stop the digest); a forged or mangled one is NotFound."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        return User.objects.get(pk=data["user"]), Brand.objects.get(pk=data["brand"])
    except (signing.BadSignature, KeyError, TypeError, User.DoesNotExist, Brand.DoesNotExist):
        raise NotFound("This unsubscribe link is not valid.") from None


def digest_preference_set(
    *,
    user: User,
    brand: Brand,
    weekly_digest: bool,
    via: str,
    request: HttpRequest | None = None,
) -> DigestPreference:
    """Turn ``brand``'s weekly digest on or off for ``user``, audited.

    ``via`` says where (``link``: the email's unsubscribe link, signed for this
    user; ``settings``: the signed-in admin's settings page). Only an admin of
    the brand may turn it on.
    """
    if (
        weekly_digest
        and not BrandMembership.objects.filter(
            brand=brand, user=user, role=BrandRole.ADMIN
        ).exists()
    ):
        raise PermissionDenied("Only the brand's admins get its weekly digest.")
    with transaction.atomic():
        preference, _ = DigestPreference.objects.select_for_update().get_or_create(
            user=user, brand=brand
        )
        changed = preference.weekly_digest != weekly_digest
        preference.weekly_digest = weekly_digest
        preference.save()
        if changed:
            audit_record(
                # The link is signed for this user: the action is theirs, signed in or not.
                actor=user,
                actor_label=user.email,
                action="digest.subscribed" if weekly_digest else "digest.unsubscribed",
                brand=brand,
                target=preference,
                changes={"weekly_digest": weekly_digest, "via": via},
                request=request,
            )
    return preference


def digest_subscriptions(*, user: User) -> list[tuple[Brand, bool]]:
    """Each brand ``user`` is an admin of, and whether its digest is on."""
    brands = Brand.objects.filter(
        memberships__user=user, memberships__role=BrandRole.ADMIN
    ).order_by("name", "pk")
    off = set(
        DigestPreference.objects.filter(user=user, weekly_digest=False).values_list(
            "brand_id", flat=True
        )
    )
    return [(brand, brand.pk not in off) for brand in brands]


# --- sending ---------------------------------------------------------------------------------


def digest_send(*, user: User, digest: Digest) -> bool:
    """Send ``digest`` to ``user`` unless already sent that week; True if sent.

    The record and the email share a transaction: an email that fails to go
    rolls the record back, so the next run tries again. (A commit failing
    after a successful send would send twice; that is the rarer failure.)
    """
    with transaction.atomic():
        _, created = DigestSent.objects.get_or_create(
            user=user, brand=digest.brand, week=digest.week.first
        )
        if not created:
            return False
        context = {
            "user": user,
            "digest": digest,
            "unsubscribe_url": digest_unsubscribe_url(user=user, brand=digest.brand),
            "settings_url": settings.SITE_URL + reverse("frontend:digest_settings"),
        }
        message = EmailMultiAlternatives(
            subject=digest.subject,
            body=render_to_string("analytics/email/digest.txt", context),
            to=[user.email],
            headers={
                "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.attach_alternative(
            render_to_string("analytics/email/digest.html", context), "text/html"
        )
        message.send()
    return True


def digests_send(*, now: datetime | None = None) -> int:
    """Send every digest due as of ``now`` and not yet sent; the number sent."""
    now = now or timezone.now()
    sent = 0
    brands = Brand.objects.filter(memberships__role=BrandRole.ADMIN).distinct().order_by("pk")
    for brand in brands:
        if not digest_due(brand=brand, now=now):
            continue
        week = digest_week(brand=brand, now=now)
        recipients = list(digest_recipients(brand=brand, week=week))
        if not recipients:
            continue
        digest = digest_build(brand=brand, week=week)
        for user in recipients:
            try:
                sent += digest_send(user=user, digest=digest)
            except Exception:
                # One address failing must not stop the others; the next run retries it.
                logger.exception("Weekly digest to user %s for brand %s failed", user.pk, brand.pk)
    return sent
