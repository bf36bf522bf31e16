"""Who may be offered which task: the one dispatch eligibility rule.

The rule is a list of named conditions (``RULES``). Each condition is built
from a ``Match``, which says how to refer to the agent and to the gig's
requirements from the query being filtered:

- ``eligible_agents_for_gig`` filters users, so the agent is the row
  (``F("pk")``) and the gig's requirements are plain values;
- ``offerable_tasks_for_agent`` filters tasks, so the agent is a value and the
  requirements are the task's own columns (``F("gig__...")``);
- ``task_claim`` evaluates every condition for one agent and one task in a
  single query and reports the first that fails.

A requirement (certifications, a QA minimum) is one more entry in
``RULES`` and applies to all three at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.utils import timezone

from assessments.models import GigCertificationRequirement
from assessments.selectors import satisfying_certifications
from brands.models import PoolMembership
from gigs.models import (
    AgentPresence,
    DispatchMode,
    Gig,
    GigStatus,
    PresenceStatus,
    Task,
    TaskReservation,
    TaskStatus,
)
from marketplace.models import AccountType, AgentLanguage, AgentProfile, User
from payouts.reservations import BRAND_CANNOT_COVER, BrandCannotCover, brand_can_cover
from qa.models import QAStanding
from qa.standing import blocked_reason as qa_blocked_reason

# Task states an agent may claim from: waiting in the queue, or reserved for
# someone by a directed offer.
CLAIMABLE_STATUSES = (TaskStatus.QUEUED, TaskStatus.OFFERED)

# An agent's page sends a heartbeat every 15 s; after three missed ones the
# agent is no longer offered work, whatever their presence row says.
PRESENCE_TIMEOUT = timedelta(seconds=45)


@dataclass(frozen=True)
class Match:
    """How the conditions refer to the agent and to what the work requires.

    Each attribute is a plain value or an ``F()`` on the query being filtered.
    """

    agent: Any
    brand: Any
    gig: Any
    language: Any
    min_level: Any
    max_tasks: Any


def _down(ref: Any) -> Any:
    """The same reference, seen from inside one more level of subquery."""
    if isinstance(ref, OuterRef):
        return OuterRef(ref)
    if isinstance(ref, F):
        return OuterRef(ref.name)
    return ref


def held_count(m: Match) -> Subquery:
    """How many tasks of the gig the agent holds now."""
    held = (
        Task.objects.filter(holder=_down(m.agent), gig=_down(m.gig), status=TaskStatus.CLAIMED)
        .order_by()
        .values("holder")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(held), Value(0))


def _in_pool(m: Match):
    return Exists(
        PoolMembership.objects.approved().filter(brand=_down(m.brand), agent=_down(m.agent))
    )


def _speaks_language(m: Match):
    # CEFR levels A1 < A2 < B1 < B2 < C1 < C2 sort as strings.
    return Exists(
        AgentLanguage.objects.filter(
            profile__user=_down(m.agent),
            language=_down(m.language),
            level__gte=_down(m.min_level),
        )
    )


def _has_required_skills(m: Match):
    # No skill the gig requires is missing from the agent's profile.
    agent_skills = AgentProfile.skills.through.objects.filter(
        agentprofile__user=_down(_down(m.agent))
    ).values("skill_id")
    missing = Gig.required_skills.through.objects.filter(gig=_down(m.gig)).exclude(
        skill_id__in=agent_skills
    )
    return ~Exists(missing)


def _holds_required_certifications(m: Match):
    # No certification the gig requires is missing: for each requirement, a
    # certification of that assessment, at or above its level ("" = a pass
    # or any level; CEFR levels sort as strings), unexpired at read time.
    held = satisfying_certifications(
        agent_ref=_down(_down(m.agent)),
        assessment_ref=OuterRef("assessment_id"),
        min_level_ref=OuterRef("min_level"),
        at=timezone.now(),
    )
    missing = GigCertificationRequirement.objects.filter(gig=_down(m.gig)).exclude(Exists(held))
    return ~Exists(missing)


def _is_online(m: Match):
    # Paused, away and offline agents are all "not online"; so is an agent
    # whose page stopped sending heartbeats (a closed tab, a dropped network).
    return Exists(
        AgentPresence.objects.filter(
            agent=_down(m.agent),
            status=PresenceStatus.ONLINE,
            last_heartbeat_at__gte=timezone.now() - PRESENCE_TIMEOUT,
        )
    )


def _under_hold_limit(m: Match):
    return LessThan(held_count(m), m.max_tasks)


def _brand_can_cover(m: Match):
    # The brand's balance in the gig's currency covers one more claim of it
    # (payouts.reservations). Per gig: the same for every task and agent.
    return brand_can_cover(_down(m.gig))


def _meets_qa_minimum(m: Match):
    # qa.standing keeps a row with a reason for each agent a gig's minimum QA
    # score keeps off it, so a claim reads one indexed row instead of
    # averaging the agent's reviews.
    return ~Exists(QAStanding.objects.blocked().filter(agent=_down(m.agent), gig=_down(m.gig)))


def _qa_minimum_refusal(agent: User, task: Task) -> str:
    reason = qa_blocked_reason(agent, task.gig)
    return f"Your QA score is below this gig's minimum: {reason}." if reason else ""


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Callable[[Match], Any]
    # Shown to the agent when this condition is what refuses a claim.
    refusal: str
    # The refusal in this agent's own figures, when the rule has them
    # (falls back to ``refusal`` when it returns "").
    explain: Callable[[User, Task], str] | None = None
    # True when the agent can fix it by finishing work, not by changing profile.
    is_capacity: bool = False
    # True when the condition reads the task itself (its language), not only
    # the gig, brand and agent. Claims evaluate the other rules once per gig,
    # before looking at any task, and these for each task they walk past.
    per_task: bool = False
    # The refusal's error code when it is not about the agent (who can do
    # nothing about it): a ``Conflict`` with this code instead of "not_eligible".
    code: str = ""


RULES: tuple[Rule, ...] = (
    Rule("in_pool", _in_pool, "You are not an approved member of this brand's pool."),
    Rule(
        "speaks_language",
        _speaks_language,
        "You do not speak this task's language at the level the gig requires.",
        per_task=True,
    ),
    Rule(
        "has_required_skills",
        _has_required_skills,
        "You do not have every skill this gig requires.",
    ),
    Rule(
        "holds_required_certifications",
        _holds_required_certifications,
        "You do not hold every certification this gig requires (or one has expired).",
    ),
    Rule(
        "meets_qa_minimum",
        _meets_qa_minimum,
        "Your QA score is below this gig's minimum; your QA page says by how much.",
        explain=_qa_minimum_refusal,
    ),
    Rule("is_online", _is_online, "Go online to claim tasks; you are offline or paused."),
    Rule(
        "under_hold_limit",
        _under_hold_limit,
        "You are at your limit of tasks for this gig; finish or release one first.",
        is_capacity=True,
    ),
    Rule(
        "brand_can_cover",
        _brand_can_cover,
        BRAND_CANNOT_COVER,
        code=BrandCannotCover.code,
    ),
)


def conditions(m: Match) -> list[Any]:
    return [rule.condition(m) for rule in RULES]


def _agents() -> QuerySet[User]:
    return User.objects.filter(account_type=AccountType.AGENT, is_active=True)


def _match_for_gig(gig: Gig, *, language: str | None = None) -> Match:
    return Match(
        agent=F("pk"),
        brand=gig.brand_id,
        gig=gig.pk,
        language=language or gig.language,
        min_level=gig.min_language_level,
        max_tasks=gig.max_tasks_per_agent,
    )


def eligible_agents_for_gig(gig: Gig, *, language: str | None = None) -> QuerySet[User]:
    """Agents who may be offered this gig's tasks (in ``language``) right now."""
    if gig.status != GigStatus.ACTIVE:
        return User.objects.none()
    return _agents().filter(*conditions(_match_for_gig(gig, language=language)))


def eligible_agents_for_task(task: Task) -> QuerySet[User]:
    return eligible_agents_for_gig(task.gig, language=task.language)


def _skills_matched(gig_ref: Any) -> Subquery:
    required = Gig.required_skills.through.objects.filter(gig=gig_ref).values("skill_id")
    matched = (
        AgentProfile.skills.through.objects.filter(
            agentprofile__user=OuterRef("pk"), skill_id__in=required
        )
        .order_by()
        .values("agentprofile")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(matched), Value(0))


def directed_candidates(task: Task) -> QuerySet[User]:
    """Who gets the next reservation of a directed task, best first.

    Eligible now, never offered this task before, and not already holding
    another reservation. Ranked by pool tier, then within a tier by QA score
    on the gig (``qa.feeds.ranking_signal``'s order: highest first, unscored
    last), then skills matched, then longest idle (last claim or reservation
    longest ago, never first).
    """
    offered_before = TaskReservation.objects.filter(task=task).values("agent_id")
    reserved_now = TaskReservation.objects.filter(outcome="pending").values("agent_id")
    tier = PoolMembership.objects.approved().filter(brand_id=task.brand_id, agent=OuterRef("pk"))
    qa_score = QAStanding.objects.filter(gig_id=task.gig_id, agent=OuterRef("pk"))
    return (
        eligible_agents_for_task(task)
        .exclude(pk__in=offered_before)
        .exclude(pk__in=reserved_now)
        .annotate(
            pool_tier=Subquery(tier.values("tier")[:1]),
            qa_score=Subquery(qa_score.values("score")[:1]),
            skills_matched=_skills_matched(task.gig_id),
        )
        .order_by(
            F("pool_tier").desc(nulls_last=True),
            F("qa_score").desc(nulls_last=True),
            F("skills_matched").desc(),
            F("presence__last_assigned_at").asc(nulls_first=True),
            "pk",
        )
    )


def _task_match(agent: User) -> Match:
    return Match(
        agent=agent.pk,
        brand=F("brand_id"),
        gig=F("gig_id"),
        language=F("language"),
        min_level=F("gig__min_language_level"),
        max_tasks=F("gig__max_tasks_per_agent"),
    )


def claimable_by(agent: User) -> Q:
    """Tasks this agent could take if every rule passes: open-claim tasks in the
    queue, and tasks reserved for them whose reservation has not expired."""
    return Q(
        status=TaskStatus.QUEUED,
        gig__dispatch_mode=DispatchMode.OPEN,
        holder__isnull=True,
    ) | Q(
        status=TaskStatus.OFFERED,
        reserved_for=agent.pk,
        reservation_expires_at__gt=timezone.now(),
        holder__isnull=True,
    )


def _gig_match(agent: User) -> Match:
    """The agent as a value and the gig as the row, for the rules that do not
    read the task (``language`` is left out: only per-task rules use it)."""
    return Match(
        agent=agent.pk,
        brand=F("brand_id"),
        gig=F("pk"),
        language=None,
        min_level=F("min_language_level"),
        max_tasks=F("max_tasks_per_agent"),
    )


def gigs_open_to_agent(agent: User) -> QuerySet[Gig]:
    """Active gigs whose per-gig rules the agent meets right now: approved in the
    brand's pool, every required skill, online, under the gig's hold limit,
    and the brand's balance covers one more claim.

    Claims evaluate these once per gig instead of once per queued task, then
    walk the queue in order checking only the per-task rules.
    """
    if not agent.is_agent or not agent.is_active:
        return Gig.objects.none()
    m = _gig_match(agent)
    return Gig.objects.filter(
        *(rule.condition(m) for rule in RULES if not rule.per_task),
        status=GigStatus.ACTIVE,
    ).order_by()


@dataclass(frozen=True)
class OfferScope:
    """Which open offers an agent's live connection may show.

    ``pairs``: the (gig id, language) pairs for which every rule but the hold
    limit holds; ``full_gigs``: the gigs where the agent is at the hold
    limit. Kept apart so that a connection that sees the agent let go of a
    task can make room in that gig at once, before reading the scope again.
    """

    pairs: frozenset[tuple[int, str]] = frozenset()
    full_gigs: frozenset[int] = frozenset()

    def allows(self, gig_id: int | None, language: str | None) -> bool:
        return (gig_id, language) in self.pairs and gig_id not in self.full_gigs

    def with_room_in(self, gig_id: int) -> OfferScope:
        return replace(self, full_gigs=self.full_gigs - {gig_id})


def offer_scope_for_agent(agent: User) -> OfferScope:
    """What open offers this agent may be shown now, as an ``OfferScope``.

    Every rule, evaluated once per gig and per language the agent speaks, not
    per task: a live connection keeps the scope and filters new offers by the
    gig and language they carry, so creating a task needs no query about
    agents at all. Two queries.
    """
    if not agent.is_agent or not agent.is_active:
        return OfferScope()
    languages = sorted(
        set(AgentLanguage.objects.filter(profile__user=agent).values_list("language", flat=True))
    )
    if not languages:
        return OfferScope()
    m = _gig_match(agent)

    def all_of(conditions) -> ExpressionWrapper:
        return ExpressionWrapper(Q(*conditions), output_field=BooleanField())

    per_language = {
        f"in_{index}": all_of(
            rule.condition(replace(m, language=language)) for rule in RULES if rule.per_task
        )
        for index, language in enumerate(languages)
    }
    rows = (
        Gig.objects.filter(
            *(rule.condition(m) for rule in RULES if not rule.per_task and not rule.is_capacity),
            status=GigStatus.ACTIVE,
            dispatch_mode=DispatchMode.OPEN,
        )
        .order_by()
        .annotate(has_room=all_of(rule.condition(m) for rule in RULES if rule.is_capacity))
        .annotate(**per_language)
        .values_list("pk", "has_room", *per_language)
    )
    pairs, full_gigs = set(), set()
    for gig_id, has_room, *speaks in rows:
        pairs.update(
            (gig_id, language)
            for language, allowed in zip(languages, speaks, strict=True)
            if allowed
        )
        if not has_room:
            full_gigs.add(gig_id)
    return OfferScope(pairs=frozenset(pairs), full_gigs=frozenset(full_gigs))


def _per_task_conditions(agent: User) -> list[Any]:
    m = _task_match(agent)
    return [rule.condition(m) for rule in RULES if rule.per_task]


def offerable_tasks_for_agent(
    agent: User, *, gig_ids: Iterable[int] | QuerySet | None = None
) -> QuerySet[Task]:
    """Open-claim tasks in the queue that this agent may claim right now, most
    urgent and oldest first.

    ``gig_ids`` (ids already known to be open to the agent) spares the query
    its gig subquery; claims pass it after reading the gigs in the same
    transaction. The order and the conditions match the partial index
    ``task_claim_order``, so a claim walks the queue's head, not the queue.
    """
    if not agent.is_agent or not agent.is_active:
        return Task.objects.none()
    if gig_ids is None:
        gig_ids = gigs_open_to_agent(agent).filter(dispatch_mode=DispatchMode.OPEN).values("pk")
    return (
        Task.objects.filter(status=TaskStatus.QUEUED, holder__isnull=True, gig_id__in=gig_ids)
        .filter(*_per_task_conditions(agent))
        .order_by("-priority", "id")
    )


def reserved_tasks_for_agent(
    agent: User, *, gig_ids: Iterable[int] | QuerySet | None = None
) -> QuerySet[Task]:
    """Directed tasks reserved for this agent whose reservation has not expired,
    while every rule still holds (``gig_ids`` as for ``offerable_tasks_for_agent``)."""
    if not agent.is_agent or not agent.is_active:
        return Task.objects.none()
    if gig_ids is None:
        gig_ids = gigs_open_to_agent(agent).values("pk")
    return (
        Task.objects.filter(
            status=TaskStatus.OFFERED,
            reserved_for=agent.pk,
            reservation_expires_at__gt=timezone.now(),
            holder__isnull=True,
            gig_id__in=gig_ids,
        )
        .filter(*_per_task_conditions(agent))
        .order_by("-priority", "id")
    )


def claimable_tasks_for_agent(agent: User) -> QuerySet[Task]:
    """Every task this agent may claim right now (open offers and their reservations)."""
    return (reserved_tasks_for_agent(agent) | offerable_tasks_for_agent(agent)).order_by(
        "-priority", "id"
    )


def waiting_directed_tasks_for_agent(agent: User) -> QuerySet[Task]:
    """Directed tasks nobody holds a reservation for, which this agent could take,
    and has not been offered before."""
    if not agent.is_agent or not agent.is_active:
        return Task.objects.none()
    directed_gigs = gigs_open_to_agent(agent).filter(dispatch_mode=DispatchMode.DIRECTED)
    return (
        Task.objects.filter(
            status=TaskStatus.QUEUED,
            holder__isnull=True,
            gig_id__in=directed_gigs.values("pk"),
        )
        .filter(*_per_task_conditions(agent))
        .exclude(reservations__agent=agent)
        .order_by("-priority", "id")
    )


def failed_rules(agent: User, task: Task) -> list[Rule]:
    """The conditions this agent fails for this task, in ``RULES`` order.

    One query, whatever the number of rules: each becomes a boolean column.
    """
    m = _match_for_gig(task.gig, language=task.language)
    row = (
        _agents()
        .filter(pk=agent.pk)
        .annotate(**{f"ok_{rule.name}": rule.condition(m) for rule in RULES})
        .values(*(f"ok_{rule.name}" for rule in RULES))
        .first()
    )
    if row is None:
        return list(RULES)
    return [rule for rule in RULES if not row[f"ok_{rule.name}"]]


def agent_is_eligible_for_task(agent: User, task: Task) -> bool:
    """Whether the agent may claim this task now (open task, active gig, every rule met)."""
    if task.status not in CLAIMABLE_STATUSES or task.gig.status != GigStatus.ACTIVE:
        return False
    m = _match_for_gig(task.gig, language=task.language)
    return _agents().filter(pk=agent.pk).filter(*conditions(m)).exists()
