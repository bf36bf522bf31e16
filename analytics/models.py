"""Hourly roll-ups of the task event history: what dashboards, exports, the
metrics API and digests read.

One row per brand × gig × agent × language × hour holds additive sums and
counts only (never a ratio or a mean), so that any period, filter or grouping
is a ``SUM`` over rows, and the figures of docs/metrics.md are ratios of those
sums. ``analytics.rollup`` writes them; nothing else does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# Upper bounds (seconds, exclusive) of the handle-time distribution's bins;
# the last bin is everything from the final bound up.
HANDLE_BIN_BOUNDS = (120, 300, 600, 1200, 2400)
HANDLE_BIN_LABELS = ("< 2 min", "2–5 min", "5–10 min", "10–20 min", "20–40 min", "≥ 40 min")


class MetricSums(models.Model):
    """The additive measures a roll-up row holds (see ``MetricHour`` for the
    hour each one sits in)."""

    # Creation hour.
    created = models.PositiveIntegerField(default=0)
    waits = models.PositiveIntegerField(default=0)  # tasks with a wait time (claimed)
    wait_seconds = models.BigIntegerField(default=0)
    total_wait_seconds = models.BigIntegerField(default=0)
    # Reply hour.
    first_responses = models.PositiveIntegerField(default=0)
    first_response_seconds = models.BigIntegerField(default=0)
    next_responses = models.PositiveIntegerField(default=0)
    next_response_seconds = models.BigIntegerField(default=0)
    # Final close hour.
    closed = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    first_contact_resolutions = models.PositiveIntegerField(default=0)
    back_and_forths = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    csat_points = models.PositiveIntegerField(default=0)
    spend_minor = models.BigIntegerField(default=0)
    handled = models.PositiveIntegerField(default=0)  # closed tasks someone worked on
    handle_seconds = models.BigIntegerField(default=0)  # their billable seconds, all sessions
    handle_bin_0 = models.PositiveIntegerField(default=0)
    handle_bin_1 = models.PositiveIntegerField(default=0)
    handle_bin_2 = models.PositiveIntegerField(default=0)
    handle_bin_3 = models.PositiveIntegerField(default=0)
    handle_bin_4 = models.PositiveIntegerField(default=0)
    handle_bin_5 = models.PositiveIntegerField(default=0)
    sla_checks = models.PositiveIntegerField(default=0)
    sla_breaches = models.PositiveIntegerField(default=0)
    # Hour a work session ended (the agent's own time and pay).
    sessions = models.PositiveIntegerField(default=0)
    billable_seconds = models.BigIntegerField(default=0)
    engaged_seconds = models.BigIntegerField(default=0)
    earnings_minor = models.BigIntegerField(default=0)
    # Hour a review was submitted; scores in tenths (reviews have one decimal).
    qa_reviews = models.PositiveIntegerField(default=0)
    qa_passed = models.PositiveIntegerField(default=0)
    qa_score_tenths = models.PositiveIntegerField(default=0)
    # Hour a directed offer lapsed or was declined.
    offers_missed = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class MetricHour(MetricSums):
    """What happened in one hour of one brand, for one gig, agent and language.

    ``hour`` is the instant (UTC) the brand's local hour starts, so that a
    brand's days and hours of the week are whole rows even in zones with
    half-hour offsets and across DST changes. Each figure sits in the hour
    docs/metrics.md gives it: volume and wait in the creation hour, response
    times in the reply hour, outcomes, CSAT, spend and SLA in the final
    close's hour, work sessions in the hour they ended, QA in the hour the
    review was submitted, missed offers in the hour the offer ran out.
    """

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.CASCADE, related_name="+")
    # The agent the figure belongs to (see docs/metrics.md); none for tasks
    # nobody claimed, cancellations and SLA breaches while queued.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    language = models.CharField(max_length=8)
    hour = models.DateTimeField()
    # The gig's currency: spend and earnings are never summed across currencies.
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "hour", "gig", "agent", "language"],
                name="metrichour_one_row_per_key",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "hour"], name="metrichour_agent_hour"),
            models.Index(fields=["hour"], name="metrichour_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.brand_id}/{self.gig_id}/{self.agent_id}/{self.language} @ {self.hour:%Y-%m-%d %H:%M}"


class MetricDay(MetricSums):
    """The hourly rows of one local day, summed: what the dashboard's tiles,
    trends and tables read, so that a quarter is ~90 rows per gig and
    language rather than thousands of hours.

    Two kinds of rows, written together by ``analytics.rollup``: per agent
    (``all_agents`` false; ``agent`` empty for figures of no agent), and one
    row over every agent (``all_agents`` true, ``agent`` empty), which
    readers without an agent filter use. ``created_hNN`` count the tasks
    created in local hour NN, for the weekday × hour chart.
    """

    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    gig = models.ForeignKey("gigs.Gig", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    all_agents = models.BooleanField(default=False)
    language = models.CharField(max_length=8)
    day = models.DateField()
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [
            models.Index(fields=["brand", "all_agents", "day"], name="metricday_brand_day"),
            models.Index(fields=["agent", "day"], name="metricday_agent_day"),
            models.Index(fields=["day"], name="metricday_day"),
        ]

    def __str__(self) -> str:
        who = "all agents" if self.all_agents else self.agent_id
        return f"{self.brand_id}/{self.gig_id}/{who}/{self.language} on {self.day}"


CREATED_BY_HOUR = tuple(f"created_h{hour:02d}" for hour in range(24))
for _name in CREATED_BY_HOUR:
    MetricDay.add_to_class(_name, models.PositiveIntegerField(default=0))


class RollupRun(models.Model):
    """One pass of the roll-up job: what it covered, so the next pass knows where to start."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Events inserted at or after this moment were looked at.
    since = models.DateTimeField(null=True, blank=True)
    hours = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"Roll-up at {self.started_at:%Y-%m-%d %H:%M:%S}"


class DigestPreference(models.Model):
    """Whether a brand admin gets the weekly digest of one brand.

    No row means the default: admins get it. A row is written when the admin
    unsubscribes (from the email's link or the settings page) or subscribes
    again, so the choice and its moment are kept per brand.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    weekly_digest = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "brand"], name="digestpreference_one_per_brand"
            ),
        ]

    def __str__(self) -> str:
        state = "on" if self.weekly_digest else "off"
        return f"Weekly digest of brand {self.brand_id} for user {self.user_id}: {state}"


class DigestSent(models.Model):
    """One weekly digest sent: at most one per admin, brand and week (the job's idempotency)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey("brands.Brand", on_delete=models.CASCADE, related_name="+")
    # The Monday (brand-local) of the ISO week the digest reports on.
    week = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "brand", "week"], name="digestsent_one_per_week"
            ),
        ]

    def __str__(self) -> str:
        return f"Digest of brand {self.brand_id} for user {self.user_id}, week of {self.week}"
