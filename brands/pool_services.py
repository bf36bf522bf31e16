"""Writes for agent pools: applications, invitations, decisions and tiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from brands.models import Brand, PoolMembership, PoolStatus, PoolTier
from brands.permissions import require_brand_admin
from gigs import live
from marketplace.audit import audit_record
from marketplace.errors import (
    Conflict,
    GigdeskError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.models import User

# --- Agent pools ----------------------------------------------------------------
#
# An agent joins a brand's pool by applying (the brand decides) or by
# accepting an invitation (the brand already decided). Only approved members
# are offered the brand's work. Every change locks the membership row, so two
# admins deciding at once, or an admin deciding while the agent answers an
# invitation, apply one after the other and the loser sees the new state.

POOL_REAPPLY_COOLDOWN = timedelta(days=7)
POOL_DECISIONS = ("approve", "reject", "block", "unblock")

# Which states each decision may start from. Approving an invitation is the
# agent's move (accepting it), and a blocked agent must be unblocked first.
_POOL_DECISION_FROM = {
    "approve": {PoolStatus.APPLIED, PoolStatus.REJECTED},
    "reject": {PoolStatus.APPLIED, PoolStatus.APPROVED},
    "block": {PoolStatus.INVITED, PoolStatus.APPLIED, PoolStatus.APPROVED, PoolStatus.REJECTED},
    "unblock": {PoolStatus.BLOCKED},
}
_POOL_DECISION_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "block": "blocked",
    "unblock": "unblocked",
}


def _pool_text(value: str, *, field: str, label: str) -> str:
    value = (value or "").strip()
    limit = PoolMembership.NOTE_MAX_LENGTH
    if len(value) > limit:
        raise ValidationFailed(
            f"The {label} is too long: keep it to {limit} characters (it has {len(value)}).",
            fields={field: [f"At most {limit} characters."]},
        )
    return value


def _pool_require_admin(*, actor: User, brand: Brand) -> None:
    require_brand_admin(actor=actor, brand=brand, action="manage its agent pool")


def _pool_lock(membership: PoolMembership) -> PoolMembership:
    """Re-read ``membership`` under a row lock. Call inside ``transaction.atomic``."""
    locked = (
        PoolMembership.objects.select_for_update(of=("self",))
        .select_related("brand", "agent")
        .filter(pk=membership.pk)
        .first()
    )
    if locked is None:
        # Declined (and so deleted) between the page load and this request.
        raise NotFound("This pool entry no longer exists.")
    return locked


def _when(moment) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y at %H:%M} UTC"


def _pool_check_can_apply(membership: PoolMembership, brand: Brand) -> None:
    status = membership.status
    if status == PoolStatus.APPLIED:
        raise Conflict(
            f"You have already applied to {brand}'s pool. The brand has not decided yet.",
            code="pool_already_applied",
        )
    if status == PoolStatus.APPROVED:
        raise Conflict(
            f"You are already an approved member of {brand}'s pool.", code="pool_already_member"
        )
    if status == PoolStatus.INVITED:
        raise Conflict(
            f"{brand} has already invited you: accept the invitation instead of applying.",
            code="pool_invited",
        )
    if status == PoolStatus.BLOCKED:
        # Neutral on purpose: the agent learns they cannot apply, nothing more.
        raise PermissionDenied(
            f"You cannot apply to {brand}'s pool at the moment.", code="pool_blocked"
        )
    if membership.reapply_after and membership.reapply_after > timezone.now():
        raise ValidationFailed(
            f"{brand} turned down your last application. You can apply again from "
            f"{_when(membership.reapply_after)}.",
            code="pool_cooldown",
        )


def _pool_check_certifications(*, agent: User, brand: Brand) -> None:
    from assessments.selectors import missing_brand_certifications

    missing = missing_brand_certifications(agent=agent, brand=brand)
    if missing:
        names = ", ".join(
            f"{r.assessment} ({r.min_level} or above)" if r.min_level else f"{r.assessment} (pass)"
            for r in missing
        )
        raise PermissionDenied(
            f"{brand} requires certifications you do not hold (or that have expired): "
            f"{names}. Take the assessment, then apply again.",
            code="pool_certification_required",
        )


def pool_apply(*, agent: User, brand: Brand, note: str = "", request=None) -> PoolMembership:
    """Apply to ``brand``'s pool, or apply again once a rejection's cooldown is over."""
    if not agent.is_agent:
        raise PermissionDenied(
            "Only agent accounts can apply to a brand's pool. Sign up as an agent with a "
            "separate email address to work on gigs.",
            code="not_an_agent",
        )
    note = _pool_text(note, field="note", label="application note")
    with transaction.atomic():
        membership = (
            PoolMembership.objects.select_for_update(of=("self",))
            .filter(brand=brand, agent=agent)
            .first()
        )
        previous = None
        if membership is None:
            _pool_check_certifications(agent=agent, brand=brand)
            try:
                with transaction.atomic():  # savepoint: a double submit loses the race below
                    membership = PoolMembership.objects.create(
                        brand=brand, agent=agent, status=PoolStatus.APPLIED, note=note
                    )
            except IntegrityError:
                raise Conflict(
                    f"You have already applied to {brand}'s pool.", code="pool_already_applied"
                ) from None
        else:
            _pool_check_can_apply(membership, brand)
            _pool_check_certifications(agent=agent, brand=brand)
            previous = membership.status
            membership.status = PoolStatus.APPLIED
            membership.note = note
            membership.reason = ""
            membership.reapply_after = None
            membership.decided_by = None
            membership.decided_at = None
            membership.save(
                update_fields=[
                    "status",
                    "note",
                    "reason",
                    "reapply_after",
                    "decided_by",
                    "decided_at",
                    "updated_at",
                ]
            )
        audit_record(
            actor=agent,
            action="pool.applied",
            target=membership,
            brand=brand,
            changes={"status": [previous, PoolStatus.APPLIED], "note": note},
            request=request,
        )
    return membership


def pool_invite(*, brand: Brand, actor: User, agent_email: str, request=None) -> PoolMembership:
    """Invite an existing agent account to ``brand``'s pool and email them.

    Accepting makes them an approved member straight away: the invitation is
    the brand's decision.
    """
    _pool_require_admin(actor=actor, brand=brand)
    email = (agent_email or "").strip().lower()
    agent = User.objects.filter(email__iexact=email, is_active=True).first() if email else None
    if agent is None or not agent.is_agent:
        # One message for "no account" and "not an agent", so that brand
        # admins cannot probe which addresses have brand accounts.
        raise ValidationFailed(
            f"No agent account uses {email or 'that address'}. Ask them to sign up on Gigdesk "
            "as an agent, then invite them.",
            fields={"email": ["No agent account uses this address."]},
            code="pool_unknown_agent",
        )
    with transaction.atomic():
        membership = (
            PoolMembership.objects.select_for_update(of=("self",))
            .filter(brand=brand, agent=agent)
            .first()
        )
        previous = membership.status if membership else None
        refusals = {
            PoolStatus.INVITED: f"{email} is already invited and has not answered yet.",
            PoolStatus.APPLIED: f"{email} has already applied: approve their application instead.",
            PoolStatus.APPROVED: f"{email} is already an approved member of your pool.",
            PoolStatus.BLOCKED: f"{email} is blocked from your pool. Unblock them first.",
        }
        if previous in refusals:
            raise Conflict(
                refusals[previous], fields={"email": [refusals[previous]]}, code="pool_exists"
            )
        if membership is None:
            membership = PoolMembership.objects.create(
                brand=brand, agent=agent, status=PoolStatus.INVITED, invited_by=actor
            )
        else:  # rejected before: the brand has changed its mind
            membership.status = PoolStatus.INVITED
            membership.invited_by = actor
            membership.reason = ""
            membership.reapply_after = None
            membership.save(
                update_fields=["status", "invited_by", "reason", "reapply_after", "updated_at"]
            )
        audit_record(
            actor=actor,
            action="pool.invited",
            target=membership,
            brand=brand,
            changes={"status": [previous, PoolStatus.INVITED], "email": email},
            request=request,
        )
        pools_url = settings.SITE_URL + reverse("frontend:agent_brands")
        inviter = actor.get_full_name()
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[Gigdesk] {brand.name} invites you to its agent pool",
                message=(
                    f"{inviter} invited you to join {brand.name}'s agent pool on Gigdesk. "
                    f"As a member you are offered {brand.name}'s support work.\n\n"
                    f"Accept or decline the invitation here:\n{pools_url}"
                ),
                from_email=None,
                recipient_list=[agent.email],
            )
        )
    return membership


def _pool_locked_invitation(membership: PoolMembership, agent: User) -> PoolMembership:
    locked = _pool_lock(membership)
    if locked.agent_id != agent.pk:
        raise NotFound("No such invitation.")
    if locked.status != PoolStatus.INVITED:
        raise Conflict(
            f"There is no open invitation from {locked.brand}: your status there is "
            f"“{locked.get_status_display()}”.",
            code="pool_not_invited",
        )
    return locked


def _qa_standing_follows(agent_id: int) -> None:
    # A new pool may have gigs whose minimum QA score the agent's record does
    # not meet; dispatch learns it from the agent's QA standing, kept by qa.
    from qa.tasks import qa_standing_refresh_job  # lazily: qa imports brands

    transaction.on_commit(lambda: qa_standing_refresh_job(agent_id))


def pool_invitation_accept(
    *, membership: PoolMembership, agent: User, request=None
) -> PoolMembership:
    """The invited agent joins the pool as an approved member."""
    with transaction.atomic():
        membership = _pool_locked_invitation(membership, agent)
        membership.status = PoolStatus.APPROVED
        membership.decided_by = membership.invited_by
        membership.decided_at = timezone.now()
        membership.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
        audit_record(
            actor=agent,
            action="pool.invitation_accepted",
            target=membership,
            brand=membership.brand,
            changes={"status": [PoolStatus.INVITED, PoolStatus.APPROVED]},
            request=request,
        )
        live.agent_scope_changed(membership.agent_id)
        _qa_standing_follows(membership.agent_id)
    return membership


def pool_invitation_decline(*, membership: PoolMembership, agent: User, request=None) -> None:
    """The invited agent says no. The entry goes away: the agent may apply
    later, and the brand may invite again."""
    with transaction.atomic():
        membership = _pool_locked_invitation(membership, agent)
        audit_record(
            actor=agent,
            action="pool.invitation_declined",
            target=membership,
            brand=membership.brand,
            changes={"status": [PoolStatus.INVITED, None]},
            request=request,
        )
        membership.delete()


def pool_decide(
    *, membership: PoolMembership, actor: User, decision: str, reason: str = "", request=None
) -> PoolMembership:
    """Approve, reject, block or unblock an agent in the membership's brand pool.

    Rejecting starts a ``POOL_REAPPLY_COOLDOWN`` before the agent may apply
    again. Unblocking lifts the block without admitting the agent: they are
    back to "rejected" with no cooldown, so they may apply again at once.
    ``reason`` (for reject and block) is shown to the agent.
    """
    if decision not in POOL_DECISIONS:
        raise ValidationFailed(
            "Choose approve, reject, block or unblock.",
            fields={"decision": [f"Unknown decision {decision!r}."]},
        )
    reason = _pool_text(reason, field="reason", label="reason")
    with transaction.atomic():
        membership = _pool_lock(membership)
        _pool_require_admin(actor=actor, brand=membership.brand)
        previous = membership.status
        if previous not in _POOL_DECISION_FROM[decision]:
            raise Conflict(
                f"{membership.agent} is {membership.get_status_display().lower()}, so they "
                f"cannot be {_POOL_DECISION_PAST[decision]}.",
                code="pool_bad_transition",
            )
        now = timezone.now()
        membership.decided_by = actor
        membership.decided_at = now
        membership.reapply_after = None
        if decision == "approve":
            membership.status = PoolStatus.APPROVED
            membership.reason = ""
        elif decision == "reject":
            membership.status = PoolStatus.REJECTED
            membership.reason = reason
            membership.reapply_after = now + POOL_REAPPLY_COOLDOWN
        elif decision == "block":
            membership.status = PoolStatus.BLOCKED
            membership.reason = reason
        else:
            membership.status = PoolStatus.REJECTED
            membership.reason = ""
        membership.save(
            update_fields=[
                "status",
                "reason",
                "reapply_after",
                "decided_by",
                "decided_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action=f"pool.{_POOL_DECISION_PAST[decision]}",
            target=membership,
            brand=membership.brand,
            changes={"status": [previous, membership.status], "reason": membership.reason},
            request=request,
        )
        # Approved, rejected or blocked: the agent's open queue changes at once.
        live.agent_scope_changed(membership.agent_id)
        if membership.status == PoolStatus.APPROVED:
            _qa_standing_follows(membership.agent_id)
    return membership


def pool_set_tier(
    *, membership: PoolMembership, actor: User, tier: int, request=None
) -> PoolMembership:
    """Set an approved member's tier (1 new … 5 top); dispatch favours higher tiers."""
    if tier not in PoolTier.values:
        raise ValidationFailed(
            "Choose a tier from 1 to 5.", fields={"tier": [f"Unknown tier {tier!r}."]}
        )
    with transaction.atomic():
        membership = _pool_lock(membership)
        _pool_require_admin(actor=actor, brand=membership.brand)
        if membership.status != PoolStatus.APPROVED:
            raise Conflict(
                f"{membership.agent} is {membership.get_status_display().lower()}: "
                "only approved members have a tier.",
                code="pool_not_approved",
            )
        previous = membership.tier
        if previous == tier:
            return membership
        membership.tier = tier
        membership.save(update_fields=["tier", "updated_at"])
        audit_record(
            actor=actor,
            action="pool.tier_changed",
            target=membership,
            brand=membership.brand,
            changes={"tier": [previous, tier]},
            request=request,
        )
    return membership


# --- Bulk actions (the pool console) ----------------------------------------------
#
# A bulk action runs the per-agent service above for each selected member, so
# each change is checked, locked and audited exactly as a single one is. All
# of them share one transaction: the selected rows are locked up front in pk
# order (a fixed order, so two admins' overlapping bulk actions cannot
# deadlock), and an unexpected error rolls the whole batch back. A member the
# action does not apply to is skipped with the reason, and the rest go ahead.

POOL_BULK_ACTIONS = ("approve", "block", "set_tier")
POOL_BULK_INVITE_LIMIT = 100


@dataclass
class PoolBulkResult:
    """What a bulk action did: whom it changed and whom it skipped, and why."""

    action: str
    done: list[str] = field(default_factory=list)  # agent emails
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    # Selected ids that are not (or no longer) in this brand's pool.
    missing: int = 0


def _pool_bulk_skip_reason(membership: PoolMembership, action: str, tier: int | None) -> str:
    """Why ``action`` does not apply to ``membership`` (locked), or "" if it does."""
    status = membership.status
    if action == "approve" and status != PoolStatus.APPLIED:
        return (
            "already approved"
            if status == PoolStatus.APPROVED
            else f"not a pending applicant ({membership.get_status_display().lower()})"
        )
    if action == "block" and status == PoolStatus.BLOCKED:
        return "already blocked"
    if action == "set_tier":
        if status != PoolStatus.APPROVED:
            return f"only approved members have a tier ({membership.get_status_display().lower()})"
        if membership.tier == tier:
            return f"already tier {tier}"
    return ""


def pool_bulk_update(
    *,
    brand: Brand,
    actor: User,
    membership_ids: list[int],
    action: str,
    tier: int | None = None,
    reason: str = "",
    request=None,
) -> PoolBulkResult:
    """Approve pending applicants, block, or set the tier of the selected
    members of ``brand``'s pool, through ``pool_decide`` and ``pool_set_tier``.

    Refuses the whole request (nothing changes) for no selection, an unknown
    action or a tier outside 1–5.
    """
    if action not in POOL_BULK_ACTIONS:
        raise ValidationFailed(
            "Choose approve, block or set tier.",
            fields={"action": [f"Unknown action {action!r}."]},
        )
    ids = sorted(set(membership_ids))
    if not ids:
        raise ValidationFailed(
            "Select at least one agent.", fields={"selected": ["Select at least one agent."]}
        )
    if action == "set_tier" and tier not in PoolTier.values:
        raise ValidationFailed(
            "Choose a tier from 1 to 5.", fields={"tier": [f"Unknown tier {tier!r}."]}
        )
    reason = _pool_text(reason, field="reason", label="reason")
    _pool_require_admin(actor=actor, brand=brand)
    result = PoolBulkResult(action=action)
    with transaction.atomic():
        memberships = list(
            PoolMembership.objects.for_brand(brand)
            .select_for_update(of=("self",))
            .select_related("agent", "brand")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        result.missing = len(ids) - len(memberships)
        for membership in memberships:
            email = membership.agent.email
            skip = _pool_bulk_skip_reason(membership, action, tier)
            if skip:
                result.skipped.append((email, skip))
                continue
            try:
                if action == "set_tier":
                    pool_set_tier(membership=membership, actor=actor, tier=tier, request=request)
                else:
                    pool_decide(
                        membership=membership,
                        actor=actor,
                        decision=action,
                        reason=reason,
                        request=request,
                    )
            except GigdeskError as exc:  # the service's own savepoint rolled it back
                result.skipped.append((email, exc.message))
            else:
                result.done.append(email)
    return result


def pool_bulk_invite(
    *, brand: Brand, actor: User, emails: list[str], request=None
) -> PoolBulkResult:
    """Invite each address through ``pool_invite``; addresses it refuses
    (no agent account, already a member, blocked…) are skipped with its reason."""
    addresses = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    if not addresses:
        raise ValidationFailed(
            "Enter at least one email address.",
            fields={"emails": ["Enter at least one email address."]},
        )
    if len(addresses) > POOL_BULK_INVITE_LIMIT:
        raise ValidationFailed(
            f"Invite at most {POOL_BULK_INVITE_LIMIT} agents at once "
            f"(the list has {len(addresses)}).",
            fields={"emails": [f"At most {POOL_BULK_INVITE_LIMIT} addresses."]},
        )
    _pool_require_admin(actor=actor, brand=brand)
    result = PoolBulkResult(action="invite")
    with transaction.atomic():
        for email in addresses:
            try:
                pool_invite(brand=brand, actor=actor, agent_email=email, request=request)
            except GigdeskError as exc:
                result.skipped.append((email, exc.message))
            else:
                result.done.append(email)
    return result
