"""The nightly tier job and staff overrides: QA moves an agent's pool tier,
one step at a time, each move with a reason the agent and the brand see.

The rules are ``qa.scoring.tier_decision``'s; this module gathers its inputs
(the agent's QA score in the brand, critical fails in 30 days, the last
move) and writes the move. Every move, the job's or a person's, counts for
the 7-day limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus, PoolTier
from marketplace.audit import audit_record
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from qa import scoring
from qa.inputs import TEXT_MAX, text_value
from qa.models import Review, ReviewStatus, TierChange
from qa.permissions import require_manage
from qa.selectors import agent_qa_score


@dataclass(frozen=True)
class TierOutcome:
    membership_id: int
    decision: scoring.TierDecision
    change: TierChange | None


@dataclass
class TierJobResult:
    checked: int = 0
    changes: list[TierChange] = field(default_factory=list)
    # Every member's decision, moved or not, so a caller can show why nobody moved.
    outcomes: list[TierOutcome] = field(default_factory=list)


def critical_fails(*, agent, brand, now: datetime) -> int:
    """The agent's submitted, counting reviews in the brand with a critical fail, last 30 days."""
    return Review.objects.filter(
        agent=agent,
        brand=brand,
        status=ReviewStatus.SUBMITTED,
        is_calibration=False,
        critical_fail=True,
        submitted_at__gte=now - timedelta(days=scoring.WINDOW_DAYS),
        submitted_at__lte=now,
    ).count()


def last_tier_move_at(*, agent, brand) -> datetime | None:
    return (
        TierChange.objects.filter(agent=agent, brand=brand)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def _apply(
    membership: PoolMembership, *, to_tier: int, reason: str, actor, now: datetime
) -> TierChange:
    """Move the (locked, approved) membership to ``to_tier`` and record why."""
    from_tier = membership.tier
    membership.tier = to_tier
    membership.save(update_fields=["tier", "updated_at"])
    change = TierChange.objects.create(
        brand_id=membership.brand_id,
        agent_id=membership.agent_id,
        membership=membership,
        from_tier=from_tier,
        to_tier=to_tier,
        reason=reason,
        actor=actor,
        is_override=actor is not None,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action="qa.tier_overridden" if actor is not None else "qa.tier_changed",
        target=change,
        brand=membership.brand,
        changes={"tier": [from_tier, to_tier], "reason": reason, "membership": membership.pk},
    )
    return change


def tier_review(membership: PoolMembership, *, now: datetime | None = None) -> TierOutcome:
    """Decide and apply one approved member's move, if any."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            PoolMembership.objects.select_for_update()
            .select_related("brand", "agent")
            .filter(pk=membership.pk, status=PoolStatus.APPROVED)
            .first()
        )
        if locked is None:
            return TierOutcome(
                membership.pk, scoring.TierDecision(0, "Not an approved member."), None
            )
        decision = scoring.tier_decision(
            score=agent_qa_score(agent=locked.agent, brand=locked.brand, now=now),
            critical_fails_30d=critical_fails(agent=locked.agent, brand=locked.brand, now=now),
            last_move_at=last_tier_move_at(agent=locked.agent, brand=locked.brand),
            now=now,
            tier=locked.tier,
            max_tier=max(PoolTier.values),
            min_tier=min(PoolTier.values),
        )
        change = None
        if decision.move:
            change = _apply(
                locked,
                to_tier=locked.tier + decision.move,
                reason=decision.reason,
                actor=None,
                now=now,
            )
    return TierOutcome(locked.pk, decision, change)


def tier_job_run_now(*, actor) -> TierJobResult:
    """Staff run the nightly job from the console. Its moves are the job's
    (same rules, same reasons); the audit log also says who started the run."""
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only platform staff can run the tier job.")
    result = tier_job()
    audit_record(
        actor=actor,
        action="qa.tier_job_run",
        target=None,
        changes={"checked": result.checked, "moved": [c.pk for c in result.changes]},
    )
    return result


def tier_job(*, now: datetime | None = None) -> TierJobResult:
    """Every approved pool member, once: promote, demote or leave them be."""
    now = now or timezone.now()
    result = TierJobResult()
    members = PoolMembership.objects.approved().order_by("brand_id", "agent_id")
    for membership in members.iterator():
        outcome = tier_review(membership, now=now)
        result.checked += 1
        result.outcomes.append(outcome)
        if outcome.change is not None:
            result.changes.append(outcome.change)
    return result


def tier_override(*, actor, membership: PoolMembership, tier, reason: str) -> TierChange:
    """Staff or a brand admin set a member's tier by hand, saying why (the agent sees it)."""
    require_manage(actor, membership.brand)
    reason = text_value(
        reason, field_name="reason", label="The reason", max_length=TEXT_MAX, required=True
    )
    try:
        tier = int(tier)
    except (TypeError, ValueError):
        tier = 0
    if tier not in PoolTier.values:
        raise ValidationFailed("Choose a tier from 1 to 5.", fields={"tier": "From 1 to 5."})
    with transaction.atomic():
        locked = (
            PoolMembership.objects.select_for_update().select_related("brand").get(pk=membership.pk)
        )
        if locked.status != PoolStatus.APPROVED:
            raise Conflict("Only approved pool members have a tier.", code="pool_not_approved")
        if locked.tier == tier:
            raise ValidationFailed(
                f"The agent is already at tier {tier}.", fields={"tier": "Unchanged."}
            )
        return _apply(locked, to_tier=tier, reason=reason, actor=actor, now=timezone.now())
