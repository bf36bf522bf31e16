"""Writes for users and agent profiles."""

from __future__ import annotations

from django.db import transaction

from marketplace.models import AccountType, AgentProfile, User


@transaction.atomic
def user_complete_signup(*, user: User, full_name: str, account_type: str) -> User:
    user.full_name = full_name.strip()
    user.account_type = account_type
    user.save(update_fields=["full_name", "account_type"])
    if account_type == AccountType.AGENT:
        agent_profile_ensure(user=user)
    return user


def agent_profile_ensure(*, user: User) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(
        user=user, defaults={"display_name": user.full_name or user.email.split("@")[0]}
    )
    return profile
