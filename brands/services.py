"""Writes for brands: creation, members, invitations and API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from brands.models import (
    ApiKey,
    Brand,
    BrandInvitation,
    BrandMembership,
    BrandRole,
)
from marketplace.audit import audit_record
from marketplace.errors import Conflict, PermissionDenied, ValidationFailed
from marketplace.models import User

API_KEY_PREFIX = "gdk_"


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "brand"
    slug, n = base, 2
    while Brand.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


@transaction.atomic
def brand_create(*, user: User, name: str, time_zone: str = "UTC", request=None) -> Brand:
    """Create a brand with ``user`` as its first admin."""
    name = name.strip()
    if not name:
        raise ValidationFailed(
            "A brand needs a name.", fields={"name": ["This field is required."]}
        )
    brand = Brand.objects.create(
        name=name, slug=_unique_slug(name), time_zone=time_zone, created_by=user
    )
    BrandMembership.objects.create(brand=brand, user=user, role=BrandRole.ADMIN)
    # Imported here: gigs depends on brands, not the other way round.
    from gigs.services import resolution_codes_seed

    resolution_codes_seed(brand)
    audit_record(
        actor=user,
        action="brand.created",
        target=brand,
        brand=brand,
        changes={"name": name},
        request=request,
    )
    return brand


# --- Invitations --------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: BrandInvitation
    token: str
    accept_url: str


def invitation_create(
    *, brand: Brand, invited_by: User, email: str, role: str, request=None
) -> IssuedInvitation:
    """Invite ``email`` to the brand with ``role`` and email them a one-time link."""
    email = email.strip().lower()
    if role not in BrandRole.values:
        raise ValidationFailed("Choose a role.", fields={"role": [f"Unknown role {role!r}."]})
    if BrandMembership.objects.filter(brand=brand, user__email__iexact=email).exists():
        raise Conflict(
            f"{email} is already a member of {brand}.",
            fields={"email": ["Already a member of this brand."]},
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # A new invitation replaces any still-pending one for the same address.
        brand.invitations.pending().filter(email=email).update(revoked_at=timezone.now())
        invitation = BrandInvitation.objects.create(
            brand=brand,
            email=email,
            role=role,
            token_hash=_sha256(token),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=settings.GIGDESK_INVITATION_DAYS),
        )
        audit_record(
            actor=invited_by,
            action="member.invited",
            target=invitation,
            brand=brand,
            changes={"email": email, "role": role},
            request=request,
        )
        accept_url = settings.SITE_URL + reverse("frontend:invitation_accept", args=[token])
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[Gigdesk] {invited_by.get_full_name()} invited you to {brand.name}",
                message=(
                    f"You have been invited to join {brand.name} on Gigdesk as "
                    f"{invitation.get_role_display()}.\n\nAccept the invitation:\n{accept_url}\n\n"
                    f"The link expires in {settings.GIGDESK_INVITATION_DAYS} days."
                ),
                from_email=None,
                recipient_list=[email],
            )
        )
    return IssuedInvitation(invitation=invitation, token=token, accept_url=accept_url)


def invitation_for_token(*, token: str) -> BrandInvitation | None:
    return (
        BrandInvitation.objects.select_related("brand", "invited_by")
        .filter(token_hash=_sha256(token))
        .first()
    )


def invitation_accept(*, token: str, user: User, request=None) -> BrandMembership:
    """Join the brand. The signed-in user's email must be the invited one."""
    with transaction.atomic():
        invitation = (
            BrandInvitation.objects.select_for_update()
            .select_related("brand")
            .filter(token_hash=_sha256(token))
            .first()
        )
        if invitation is None or invitation.status != "pending":
            state = invitation.status if invitation else "unknown"
            raise ValidationFailed(
                f"This invitation cannot be used: it is {state}. Ask the brand for a new one.",
                code=f"invitation_{state}",
            )
        if invitation.email != user.email.lower():
            raise PermissionDenied(
                f"This invitation was sent to {invitation.email}; you are signed in as "
                f"{user.email}. Sign in with the invited address to accept it."
            )
        membership, created = BrandMembership.objects.get_or_create(
            brand=invitation.brand, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            actor=user,
            action="member.joined",
            target=membership,
            brand=invitation.brand,
            changes={"role": membership.role, "invitation": invitation.pk},
            request=request,
        )
    return membership


def invitation_revoke(*, invitation: BrandInvitation, actor: User, request=None) -> None:
    if invitation.status != "pending":
        raise ValidationFailed(f"This invitation is already {invitation.status}.")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="member.invitation_revoked",
            target=invitation,
            brand=invitation.brand,
            changes={"email": invitation.email},
            request=request,
        )


# --- Members ------------------------------------------------------------------


def _ensure_another_admin_remains(membership: BrandMembership) -> None:
    others = BrandMembership.objects.filter(brand_id=membership.brand_id, role=BrandRole.ADMIN)
    if not others.exclude(pk=membership.pk).exists():
        raise ValidationFailed(
            "A brand must keep at least one admin. Make someone else admin first.",
            code="last_admin",
        )


def membership_set_role(
    *, membership: BrandMembership, role: str, actor: User, request=None
) -> BrandMembership:
    if role not in BrandRole.values:
        raise ValidationFailed("Choose a role.", fields={"role": [f"Unknown role {role!r}."]})
    if role == membership.role:
        return membership
    with transaction.atomic():
        membership = BrandMembership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == BrandRole.ADMIN:
            _ensure_another_admin_remains(membership)
        old_role = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="member.role_changed",
            target=membership,
            brand=membership.brand,
            changes={"role": [old_role, role]},
            request=request,
        )
    return membership


def membership_remove(*, membership: BrandMembership, actor: User, request=None) -> None:
    with transaction.atomic():
        if membership.role == BrandRole.ADMIN:
            _ensure_another_admin_remains(membership)
        audit_record(
            actor=actor,
            action="member.removed",
            target=membership,
            brand=membership.brand,
            changes={"email": membership.user.email, "role": membership.role},
            request=request,
        )
        membership.delete()


# --- API keys -----------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str  # shown to the user once, never stored


def api_key_create(*, brand: Brand, name: str, created_by: User, request=None) -> IssuedApiKey:
    name = name.strip()
    if not name:
        raise ValidationFailed(
            "Give the key a name, such as the system that will use it.",
            fields={"name": ["This field is required."]},
        )
    for _attempt in range(5):
        prefix = secrets.token_hex(6)
        secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    brand=brand,
                    name=name,
                    prefix=prefix,
                    key_hash=_sha256(secret),
                    created_by=created_by,
                )
                audit_record(
                    actor=created_by,
                    action="api_key.created",
                    target=api_key,
                    brand=brand,
                    changes={"name": name, "prefix": prefix},
                    request=request,
                )
        except IntegrityError:
            continue  # prefix collision: draw again
        return IssuedApiKey(api_key=api_key, secret=secret)
    raise RuntimeError("Could not draw a unique API key prefix.")


def api_key_revoke(*, api_key: ApiKey, actor: User, request=None) -> ApiKey:
    """Revoke ``api_key``: from now on it answers 401.

    In this process that holds at once (the key is dropped from the cache of
    authenticated keys, see ``api_key_authenticate``). Other server processes
    may still accept it from their own cache for up to
    ``API_KEY_CACHE_SECONDS`` (5 s) after the revocation commits.
    """
    if api_key.revoked_at is not None:
        return api_key
    with transaction.atomic():
        api_key.revoked_at = timezone.now()
        api_key.revoked_by = actor
        api_key.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="api_key.revoked",
            target=api_key,
            brand=api_key.brand,
            changes={"name": api_key.name, "prefix": api_key.prefix},
            request=request,
        )
        # Again once committed: a request of this process (another thread)
        # may have read the key as active, and cached it, in between.
        key_id = api_key.pk
        transaction.on_commit(lambda: _api_key_cache_evict(key_id))
    _api_key_cache_evict(api_key.pk)
    return api_key


# Keys that authenticated recently, in this process: SHA-256 of the whole
# secret -> (valid until, on time.monotonic(); the key with its brand). A
# busy integration then pays the key's SELECT once per API_KEY_CACHE_SECONDS
# instead of on every request. Only keys that matched are kept, so a wrong
# secret always reaches the database. api_key_revoke evicts its key here;
# other processes notice the revocation when their entry expires.
API_KEY_CACHE_SECONDS = 5.0
_API_KEY_CACHE_MAX_ENTRIES = 1000
_authenticated_keys: dict[str, tuple[float, ApiKey]] = {}


def _api_key_cache_evict(api_key_id: int) -> None:
    for digest, (_expires, cached) in list(_authenticated_keys.items()):
        if cached.pk == api_key_id:
            _authenticated_keys.pop(digest, None)


def _api_key_cache_store(digest: str, api_key: ApiKey, now: float) -> None:
    if len(_authenticated_keys) >= _API_KEY_CACHE_MAX_ENTRIES:
        for stale, (expires, _cached) in list(_authenticated_keys.items()):
            if expires <= now:
                _authenticated_keys.pop(stale, None)
        if len(_authenticated_keys) >= _API_KEY_CACHE_MAX_ENTRIES:
            _authenticated_keys.clear()
    _authenticated_keys[digest] = (now + API_KEY_CACHE_SECONDS, api_key)


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None. Records when it was last used.

    A key that matched is remembered by this process for
    ``API_KEY_CACHE_SECONDS``; see ``api_key_revoke`` for what that means for
    revocation.
    """
    if not raw_key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, _rest = raw_key[len(API_KEY_PREFIX) :].partition("_")
    if not sep:
        return None
    digest = _sha256(raw_key)
    clock = time.monotonic()
    cached = _authenticated_keys.get(digest)
    if cached is not None:
        expires, api_key = cached
        if clock < expires:
            return api_key
        _authenticated_keys.pop(digest, None)
    api_key = ApiKey.objects.active().select_related("brand").filter(prefix=prefix).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, digest):
        return None
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GIGDESK_API_KEY_TOUCH_SECONDS)
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        # Written at most once a minute per key: a write on every request
        # would serialise a busy integration on this one row. (The cache
        # lives for less than a minute, so this still runs once a minute.)
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    _api_key_cache_store(digest, api_key, clock)
    return api_key
