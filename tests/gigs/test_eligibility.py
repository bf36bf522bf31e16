"""Dispatch eligibility: every rule excludes on its own, and a fully eligible agent is in."""

import pytest
from django.utils import timezone

from brands.models import PoolMembership, PoolStatus
from gigs.eligibility import (
    OfferScope,
    agent_is_eligible_for_task,
    eligible_agents_for_gig,
    offer_scope_for_agent,
    offerable_tasks_for_agent,
)
from gigs.models import AgentPresence, DispatchMode, GigStatus, PresenceStatus, TaskStatus
from marketplace.languages import CEFRLevel
from tests.gigs.factories import GigFactory, TaskFactory
from tests.marketplace.factories import AgentLanguageFactory, AgentProfileFactory, SkillFactory

pytestmark = pytest.mark.django_db


def make_agent(
    brand,
    *,
    language="en",
    level=CEFRLevel.C1,
    skills=(),
    pool_status=PoolStatus.APPROVED,
    presence=PresenceStatus.ONLINE,
):
    """An agent user who, by default, meets every rule for an English B2 gig of ``brand``."""
    profile = AgentProfileFactory()
    if language:
        AgentLanguageFactory(profile=profile, language=language, level=level)
    profile.skills.add(*skills)
    if pool_status:
        PoolMembership.objects.create(brand=brand, agent=profile.user, status=pool_status)
    if presence:
        AgentPresence.objects.create(
            agent=profile.user, status=presence, last_heartbeat_at=timezone.now()
        )
    return profile.user


@pytest.fixture
def skill():
    return SkillFactory(slug="returns")


@pytest.fixture
def skilled_gig(brand, skill):
    gig = GigFactory(
        brand=brand, language="en", min_language_level=CEFRLevel.B2, max_tasks_per_agent=2
    )
    gig.required_skills.add(skill)
    return gig


def test_eligible_agent_is_included(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    assert list(eligible_agents_for_gig(skilled_gig)) == [agent]


def test_agent_not_approved_in_pool_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], pool_status=PoolStatus.APPLIED)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_approved_only_in_another_brands_pool_is_excluded(skilled_gig, other_brand, skill):
    make_agent(other_brand, skills=[skill])
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_without_the_language_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], language="de")
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_below_the_required_level_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], level=CEFRLevel.B1)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_at_exactly_the_required_level_is_included(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill], level=CEFRLevel.B2)
    assert list(eligible_agents_for_gig(skilled_gig)) == [agent]


def test_agent_missing_a_required_skill_is_excluded(skilled_gig, brand, skill):
    skilled_gig.required_skills.add(SkillFactory(slug="billing"))
    make_agent(brand, skills=[skill])
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_gig_without_required_skills_accepts_agent_without_skills(brand):
    gig = GigFactory(brand=brand, min_language_level=CEFRLevel.B2)
    agent = make_agent(brand)
    assert list(eligible_agents_for_gig(gig)) == [agent]


def test_offline_agent_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], presence=PresenceStatus.OFFLINE)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_who_never_went_online_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], presence=None)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_paused_agent_is_excluded(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill], presence=PresenceStatus.PAUSED)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_at_the_gigs_hold_limit_is_excluded(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory.create_batch(2, gig=skilled_gig, status=TaskStatus.CLAIMED, holder=agent)
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_agent_below_the_hold_limit_is_included(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory(gig=skilled_gig, status=TaskStatus.CLAIMED, holder=agent)
    assert list(eligible_agents_for_gig(skilled_gig)) == [agent]


def test_tasks_held_in_another_gig_do_not_count_toward_the_limit(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    elsewhere = GigFactory(brand=brand, max_tasks_per_agent=2)
    TaskFactory.create_batch(2, gig=elsewhere, status=TaskStatus.CLAIMED, holder=agent)
    assert list(eligible_agents_for_gig(skilled_gig)) == [agent]


def test_paused_gig_has_no_eligible_agents(skilled_gig, brand, skill):
    make_agent(brand, skills=[skill])
    skilled_gig.status = GigStatus.PAUSED
    skilled_gig.save()
    assert not eligible_agents_for_gig(skilled_gig).exists()


def test_offerable_tasks_are_queued_tasks_of_gigs_the_agent_qualifies_for(
    skilled_gig, brand, skill
):
    agent = make_agent(brand, skills=[skill])
    queued = TaskFactory(gig=skilled_gig)
    TaskFactory(gig=skilled_gig, status=TaskStatus.RESOLVED)
    german = GigFactory(brand=brand, language="de")
    TaskFactory(gig=german)
    assert list(offerable_tasks_for_agent(agent)) == [queued]


def test_offerable_tasks_exclude_other_brands_work(skilled_gig, brand, other_brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory(gig=GigFactory(brand=other_brand))
    assert not offerable_tasks_for_agent(agent).exists()


def test_offerable_tasks_exclude_gigs_where_the_agent_is_at_the_limit(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory.create_batch(2, gig=skilled_gig, status=TaskStatus.CLAIMED, holder=agent)
    TaskFactory(gig=skilled_gig)
    other_gig = GigFactory(brand=brand)
    open_task = TaskFactory(gig=other_gig)
    assert list(offerable_tasks_for_agent(agent)) == [open_task]


def test_offerable_tasks_empty_while_paused(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill], presence=PresenceStatus.PAUSED)
    TaskFactory(gig=skilled_gig)
    assert not offerable_tasks_for_agent(agent).exists()


def test_offerable_tasks_use_the_tasks_own_language(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory(gig=skilled_gig, language="fr")
    assert not offerable_tasks_for_agent(agent).exists()


def test_agent_is_eligible_for_open_task(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    assert agent_is_eligible_for_task(agent, TaskFactory(gig=skilled_gig))


def test_agent_is_not_eligible_for_task_without_the_skill(skilled_gig, brand):
    agent = make_agent(brand)
    assert not agent_is_eligible_for_task(agent, TaskFactory(gig=skilled_gig))


def test_agent_is_not_eligible_for_a_resolved_task(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    task = TaskFactory(gig=skilled_gig, status=TaskStatus.RESOLVED)
    assert not agent_is_eligible_for_task(agent, task)


# --- The offer scope a live connection keeps ------------------------------------------


def test_offer_scope_names_the_gigs_and_languages_the_agent_may_be_offered(brand, skill):
    gig = GigFactory(brand=brand, language="en", min_language_level=CEFRLevel.B2)
    agent = make_agent(brand, skills=[skill])
    AgentLanguageFactory(profile=agent.agent_profile, language="fr", level="A2")
    scope = offer_scope_for_agent(agent)
    assert scope.allows(gig.pk, "en")
    # French below the gig's B2: a French task of the same gig is not offered.
    assert not scope.allows(gig.pk, "fr")


def test_offer_scope_leaves_out_gigs_whose_rules_fail(skilled_gig, brand, other_brand, skill):
    assert not offer_scope_for_agent(make_agent(brand)).allows(skilled_gig.pk, "en")  # no skill
    assert not offer_scope_for_agent(make_agent(other_brand, skills=[skill])).allows(
        skilled_gig.pk, "en"
    )
    paused = make_agent(brand, skills=[skill], presence=PresenceStatus.PAUSED)
    assert offer_scope_for_agent(paused) == OfferScope()
    directed = GigFactory(brand=brand, dispatch_mode=DispatchMode.DIRECTED)
    assert not offer_scope_for_agent(make_agent(brand)).allows(directed.pk, "en")


def test_offer_scope_marks_a_gig_at_the_hold_limit_and_can_make_room(skilled_gig, brand, skill):
    agent = make_agent(brand, skills=[skill])
    TaskFactory.create_batch(2, gig=skilled_gig, holder=agent, status=TaskStatus.CLAIMED)
    scope = offer_scope_for_agent(agent)
    assert skilled_gig.pk in scope.full_gigs
    assert not scope.allows(skilled_gig.pk, "en")
    assert scope.with_room_in(skilled_gig.pk).allows(skilled_gig.pk, "en")
