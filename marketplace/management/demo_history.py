"""The demo world's past: 90 days of support history, for ``seed_demo``.

Analytics reads the task event history (``gigs.TaskEvent``), the work
records and the ledger. The rest of the seed covers the last few hours and
writes rows that ``task_events_backfill`` turns into simple histories; here
every demo gig gets weeks of tasks with the events the live services would
have written for them, in their order and with their ``data``:

- volume with a daily and weekly rhythm in the brand's time zone (busy
  weekday office hours, quiet nights and weekends) and mild growth;
- waits, first responses and back-and-forths that vary with the hour and
  the agent, so that some first responses break the gig's SLA;
- releases and lease expiries followed by a second agent's claim, directed
  offers that lapse or are declined, escalations, cancellations before
  anyone claimed, ratings (some a day late);
- agents who differ: faster or slower, better or worse rated, and in each
  brand one noticeably slow agent.

The rows agree with the events: each claim has its work session and work
record, each record's earning is posted to the ledger by
``payouts.earnings.earning_post`` as dispatch would, and each brand is
topped up (the seed's way: ``topup_credit``) before the month it pays for,
so its balance never dips below zero.

Rows are written in bulk; the earnings one by one, through the ledger's
own service. Tasks are found by their external ID, ``hist-<gig id>-<n>``: a
gig that has any is left alone, so seeding again adds nothing. The same
random generator and ``now`` give the same history.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from brands.models import (
    Brand,
    BrandMembership,
    BrandRole,
    PoolMembership,
    PoolStatus,
    PoolTier,
)
from gigs.dispatch import session_billable_ms
from gigs.events import task_event_new, task_events_record
from gigs.models import (
    DispatchMode,
    Gig,
    Message,
    MessageKind,
    ReservationOutcome,
    SessionOutcome,
    Task,
    TaskEventKind,
    TaskPriority,
    TaskReservation,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.services import DEFAULT_RESOLUTION_CODES
from marketplace.models import AgentLanguage, User
from payouts.earnings import brand_terms, earning_amounts, earning_post, earnings_release_due
from payouts.funding import topup_credit
from payouts.models import TopUp

HISTORY_DAYS = 90
# The newest history task arrived this long before ``now``: the rest of the
# seed fills the last hours, and every history task is over well before now.
HISTORY_GAP = timedelta(hours=8)
EXTERNAL_ID_PREFIX = "hist"

# Volume: a brand's tasks per day (across its gigs) at the start of the
# history, and how much busier the last day is (growing by a third over the
# quarter): some 14 on a weekday at first, 19 at the end, a third of that at
# weekends.
TASKS_PER_BRAND_DAY = 12.0
GROWTH = 0.35
# Monday first: busy early in the week, quiet at the weekend.
WEEKDAY_FACTORS = (1.18, 1.12, 1.06, 1.0, 0.92, 0.5, 0.38)
# Arrivals by local hour: a night trough, office hours 9–18 with a lunch dip.
HOUR_WEIGHTS = (
    0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.3, 0.6, 0.95, 1.4, 1.6, 1.6,
    1.3, 1.4, 1.6, 1.55, 1.45, 1.3, 1.0, 0.8, 0.65, 0.5, 0.35, 0.2,
)  # fmt: skip
NIGHT_HOURS = frozenset({22, 23, 0, 1, 2, 3, 4, 5, 6})

CANCEL_SHARE = 0.04
RELEASE_SHARE = 0.08
# Of releases, how many were the agent's lease running out rather than a let-go.
LEASE_EXPIRED_SHARE = 0.3
# Each directed offer: how often the agent lets it lapse, or declines it.
OFFER_LAPSE_SHARE = 0.14
OFFER_DECLINE_SHARE = 0.07
RATED_SHARE = 0.6
LATE_RATING_SHARE = 0.25
# Back-and-forths (turns) a conversation takes: 1 to 4.
TURN_WEIGHTS = (40, 32, 18, 10)

# Everyone's base CSAT distribution (scores 1–5), and the better, worse and
# slow agent's.
CSAT_WEIGHTS = {
    1: (2, 3, 8, 30, 57),
    0: (4, 6, 12, 33, 45),
    -1: (9, 11, 18, 32, 30),
    -2: (14, 16, 22, 28, 20),
}
CSAT_COMMENTS = {
    5: "Quick and friendly, thank you!",
    4: "Solved, took a little while.",
    2: "I had to explain everything twice.",
    1: "Still not fixed.",
}
RESOLUTION_CODE_WEIGHTS = {
    "answered": 40,
    "refund_issued": 12,
    "replacement_sent": 10,
    "order_updated": 20,
    "no_customer_reply": 8,
    "duplicate": 3,
}
ESCALATION_REASONS = (
    "The customer asks for a goodwill credit beyond what agents may grant.",
    "Possible fraud on the account: needs the in-house security team.",
    "The customer mentions a safety problem with the product.",
    "A legal threat: the in-house team answers those.",
)

# Subject and opening message, the agent's first reply, the customer's
# follow-ups and the agent's answers to them, by language.
PHRASES = {
    "en": {
        "openings": [
            ("Where is my order?", "Hi, my order has not moved in tracking for four days."),
            ("Wrong size delivered", "The boots arrived in size 42 but I ordered 43."),
            ("Refund not received", "I returned a jacket two weeks ago: still no refund."),
            ("Charged twice", "My card statement shows the same charge twice."),
            ("Roaming not working", "I'm abroad and my phone shows no service."),
            ("Change my plan", "I'd like the unlimited plan from next month."),
            ("Lights won't pair", "My new bulbs blink three times and never show in the app."),
            ("Warranty question", "The lamp stopped working after 10 months."),
            ("Discount code rejected", "The code SPRING15 says it is invalid."),
            ("Cancel my order", "Please cancel my last order, wrong colour."),
        ],
        "first": [
            "Thanks for reaching out! Let me look into this for you.",
            "Hi, thanks for your message. I'm checking your account now.",
            "Hello! Sorry about the trouble, I'm on it.",
        ],
        "customer": [
            "Here is the order number: 58213.",
            "I already tried that, it didn't help.",
            "OK, and how long will that take?",
            "Can you send me a confirmation by email?",
        ],
        "agent": [
            "Thanks! I've found it and fixed it on our side.",
            "Understood. I've arranged it: you'll get an email within the hour.",
            "It takes 3–5 working days; I've added a note so nobody asks you again.",
            "Done: the confirmation is on its way.",
        ],
        "thanks": ["Thank you, that helps!", "Great, thanks a lot."],
    },
    "es": {
        "openings": [
            ("¿Dónde está mi pedido?", "Hola, el seguimiento de mi pedido no se actualiza."),
            ("Factura incorrecta", "Este mes me han cobrado 12 euros de más."),
            ("Cambio de tarifa", "Quiero la tarifa con más datos. ¿Cómo lo hago?"),
            ("Devolución", "La mochila llegó con la cremallera rota."),
            ("Cargo duplicado", "Veo dos cargos iguales por el mismo pedido."),
            ("Sin cobertura", "Desde ayer no tengo cobertura en casa."),
        ],
        "first": [
            "¡Gracias por escribirnos! Ya estoy revisando tu caso.",
            "Hola, siento las molestias. Lo miro ahora mismo.",
        ],
        "customer": [
            "El número de pedido es 58213.",
            "Ya lo probé y no funcionó.",
            "¿Cuánto tardará?",
        ],
        "agent": [
            "Gracias, ya lo he corregido.",
            "Lo he gestionado: recibirás un correo en una hora.",
            "Tarda de 3 a 5 días laborables; lo he dejado anotado.",
        ],
        "thanks": ["¡Gracias, perfecto!", "Muchas gracias."],
    },
    "fr": {
        "openings": [
            ("Connexion impossible", "Je n'arrive plus à me connecter depuis hier."),
            ("Box en panne", "Ma box clignote en rouge, plus d'internet."),
            ("Mot de passe oublié", "Je ne reçois pas l'e-mail de réinitialisation."),
            ("Compte bloqué", "Mon compte est bloqué après trois tentatives."),
        ],
        "first": [
            "Merci pour votre message, je regarde votre dossier tout de suite.",
            "Bonjour, désolé pour ce souci, je vérifie.",
        ],
        "customer": [
            "Mon identifiant est le 58213.",
            "J'ai déjà essayé, sans succès.",
            "Combien de temps faut-il ?",
        ],
        "agent": [
            "Merci, c'est corrigé de notre côté.",
            "C'est fait : vous recevrez un e-mail dans l'heure.",
            "Comptez 3 à 5 jours ouvrés ; j'ai noté le dossier.",
        ],
        "thanks": ["Merci beaucoup !", "Parfait, merci."],
    },
    "de": {
        "openings": [
            ("Welcher Schlafsack?", "Welcher Schlafsack reicht bis -5 °C?"),
            ("Zelt für zwei", "Ist das Trailhead 2 leicht genug für eine Woche?"),
            ("Größenberatung", "Fallen die Summit-Schuhe eher klein aus?"),
            ("Regenjacke", "Wie oft muss ich die Jacke neu imprägnieren?"),
        ],
        "first": [
            "Danke für Ihre Nachricht! Ich schaue mir das gleich an.",
            "Hallo, gern helfe ich Ihnen weiter.",
        ],
        "customer": [
            "Ich bin eher ein Seitenschläfer.",
            "Das habe ich schon probiert.",
            "Und wie lange dauert die Lieferung?",
        ],
        "agent": [
            "Dann empfehle ich den Summit 700, er ist etwas breiter geschnitten.",
            "Verstanden, ich habe es für Sie erledigt.",
            "Zwei bis drei Werktage; ich habe es notiert.",
        ],
        "thanks": ["Danke, das hilft!", "Super, vielen Dank."],
    },
}


@dataclass(frozen=True)
class AgentStyle:
    """How one agent works one brand's tasks."""

    # Multiplies how long they take to answer and to wrap up.
    speed: float
    # Their typical seconds from a claim or a customer message to their reply.
    reply_seconds: float
    # CSAT_WEIGHTS key: 1 better than most, 0 typical, -1 worse, -2 the slow agent's.
    csat: int
    escalate_share: float
    # Relative share of the brand's work they take.
    share: float


# --- The plan of one task (times and who; rows come later) -------------------------------


@dataclass
class _Session:
    agent: User
    started_at: datetime
    last_heartbeat_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = ""
    resolution_code: str = ""


@dataclass
class _Plan:
    """One task's history: its rows and, in the order they were written, its events.

    An event's ``refs`` name the row (by index in this plan) whose id its
    ``data`` carries once written: ``session``, ``message`` or ``reservation``.
    """

    number: int
    created_at: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    messages: list[tuple[str, User | None, str, datetime]] = field(default_factory=list)
    reservations: list[tuple[User, datetime, datetime, str, datetime]] = field(default_factory=list)
    sessions: list[_Session] = field(default_factory=list)
    events: list[tuple[str, datetime, User | None, dict[str, Any], dict[str, int]]] = field(
        default_factory=list
    )

    def event(self, kind: str, at: datetime, agent: User | None = None, **data: Any) -> None:
        refs = {key: data.pop(key) for key in ("session", "message", "reservation") if key in data}
        self.events.append((kind, at, agent, data, refs))

    def message(self, kind: str, author: User | None, body: str, at: datetime) -> None:
        self.messages.append((kind, author, body, at))
        event_kind = {
            MessageKind.CUSTOMER: TaskEventKind.CUSTOMER_MESSAGE,
            MessageKind.AGENT: TaskEventKind.AGENT_MESSAGE,
        }.get(kind)
        if event_kind is not None:  # internal notes make no event
            self.event(event_kind, at, author, message=len(self.messages) - 1)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the hourly means here are small.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=max(1, round(value)))


class _GigHistory:
    """Plans the history of one gig over a window of days."""

    def __init__(
        self,
        gig: Gig,
        workers: list[User],
        styles: dict[int, AgentStyle],
        *,
        start: datetime,
        end: datetime,
        now: datetime,
        rng: random.Random,
    ) -> None:
        self.gig, self.workers, self.styles = gig, workers, styles
        self.start, self.end, self.now, self.rng = start, end, now, rng
        self.phrases = PHRASES.get(gig.language, PHRASES["en"])
        self.directed = gig.dispatch_mode == DispatchMode.DIRECTED
        self.target = gig.sla_first_response_seconds
        self.codes = [code for code, _ in DEFAULT_RESOLUTION_CODES]
        self.code_weights = [RESOLUTION_CODE_WEIGHTS.get(code, 1) for code in self.codes]
        self.shares = [styles[agent.pk].share for agent in workers]

    # --- arrivals ------------------------------------------------------------------

    def arrivals(self, share: float) -> list[datetime]:
        """When the gig's tasks arrived, the gig taking ``share`` of its brand's
        volume: per local hour, a Poisson draw around the day's volume (growth ×
        weekday) spread by ``HOUR_WEIGHTS``."""
        zone = ZoneInfo(self.gig.brand.time_zone)
        total_weight = sum(HOUR_WEIGHTS)
        span = (self.end - self.start).total_seconds()
        day = self.start.astimezone(zone).date()
        last_day = self.end.astimezone(zone).date()
        arrivals = []
        while day <= last_day:
            for hour, weight in enumerate(HOUR_WEIGHTS):
                hour_start = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
                progress = min(max((hour_start - self.start).total_seconds() / span, 0.0), 1.0)
                daily = (
                    TASKS_PER_BRAND_DAY
                    * share
                    * (1 + GROWTH * progress)
                    * WEEKDAY_FACTORS[day.weekday()]
                )
                for _ in range(_poisson(self.rng, daily * weight / total_weight)):
                    at = (hour_start + timedelta(seconds=self.rng.randrange(3600))).astimezone(UTC)
                    if self.start <= at <= self.end:
                        arrivals.append(at)
            day += timedelta(days=1)
        return sorted(arrivals)

    # --- one task ----------------------------------------------------------------

    def plan(self, number: int, created_at: datetime) -> _Plan:
        rng = self.rng
        plan = _Plan(number=number, created_at=created_at)
        subject, opening = rng.choice(self.phrases["openings"])
        plan.fields.update(
            subject=subject,
            customer_reference=f"CUST-{rng.randint(10000, 99999)}",
            priority=rng.choices(TaskPriority.values, weights=[15, 60, 20, 5])[0],
        )
        # As task_create writes them: created, and the opening message at the same moment.
        plan.event(TaskEventKind.CREATED, created_at)
        plan.message(MessageKind.CUSTOMER, None, opening, created_at)
        local_hour = created_at.astimezone(ZoneInfo(self.gig.brand.time_zone)).hour
        if rng.random() < CANCEL_SHARE:
            # Withdrawn by the brand while it waited, before anyone took (or was offered) it.
            closed_at = created_at + _seconds(rng.uniform(2 * 60, 30 * 60))
            plan.event(TaskEventKind.CANCELLED, closed_at)
            plan.fields.update(status=TaskStatus.CANCELLED, closed_at=closed_at)
            plan.fields["updated_at"] = closed_at
            return plan

        agent = rng.choices(self.workers, weights=self.shares)[0]
        style = self.styles[agent.pk]
        # The wait: a share of the gig's first-response target, longer at night
        # and at weekends, when fewer agents are online; the tail breaks the SLA.
        wait = _lognormal(rng, 0.22 * self.target, 0.65)
        if local_hour in NIGHT_HOURS:
            wait *= 2.2
        if created_at.astimezone(ZoneInfo(self.gig.brand.time_zone)).weekday() >= 5:
            wait *= 1.3
        claimed_at = self._claim(plan, agent, created_at, created_at + _seconds(wait))
        session = self._open(plan, agent, claimed_at)
        replied = False
        turns = rng.choices((1, 2, 3, 4), weights=TURN_WEIGHTS)[0]
        at = claimed_at

        if len(self.workers) > 1 and rng.random() < RELEASE_SHARE:
            # The first agent answers (or not), then lets go or goes silent;
            # a second agent takes over from the queue.
            if rng.random() < 0.6:
                at = at + _seconds(_lognormal(rng, style.reply_seconds, 0.5))
                plan.message(MessageKind.AGENT, agent, rng.choice(self.phrases["first"]), at)
                replied = True
            last_heartbeat = at + _seconds(rng.uniform(30, 6 * 60) * style.speed)
            if rng.random() < LEASE_EXPIRED_SHARE:
                outcome = SessionOutcome.LEASE_EXPIRED
                # The sweep finds the lease run out some seconds after it did.
                released_at = last_heartbeat + timedelta(
                    seconds=self.gig.lease_seconds + rng.randint(5, 40)
                )
            else:
                outcome = SessionOutcome.RELEASED
                released_at = last_heartbeat
            self._close(session, released_at, outcome, last_heartbeat=last_heartbeat)
            plan.event(
                TaskEventKind.RELEASED,
                released_at,
                agent,
                reason=outcome,
                session=len(plan.sessions) - 1,
            )
            plan.event(TaskEventKind.QUEUED, released_at)
            agent = rng.choices(
                [w for w in self.workers if w != agent],
                weights=[s for w, s in zip(self.workers, self.shares, strict=True) if w != agent],
            )[0]
            style = self.styles[agent.pk]
            requeued_wait = _lognormal(rng, 0.25 * self.target, 0.6)
            claimed_at = self._claim(
                plan, agent, released_at, released_at + _seconds(requeued_wait)
            )
            session = self._open(plan, agent, claimed_at)
            at = claimed_at

        # The conversation: the first reply (if the first agent gave none), then
        # the customer's follow-ups and the agent's answers.
        if not replied:
            at = at + _seconds(_lognormal(rng, style.reply_seconds, 0.5))
            plan.message(MessageKind.AGENT, agent, rng.choice(self.phrases["first"]), at)
        for _ in range(turns - 1):
            at = at + _seconds(_lognormal(rng, 180, 0.6))
            plan.message(MessageKind.CUSTOMER, None, rng.choice(self.phrases["customer"]), at)
            at = at + _seconds(_lognormal(rng, style.reply_seconds * 1.3, 0.6))
            plan.message(MessageKind.AGENT, agent, rng.choice(self.phrases["agent"]), at)
        if rng.random() < 0.35:
            at = at + _seconds(_lognormal(rng, 90, 0.5))
            plan.message(MessageKind.CUSTOMER, None, rng.choice(self.phrases["thanks"]), at)
        closed_at = at + _seconds(_lognormal(rng, 100, 0.6) * style.speed)

        plan.fields.update(holder=agent, claimed_at=claimed_at, closed_at=closed_at)
        updated_at = closed_at
        if rng.random() < style.escalate_share:
            reason = rng.choice(ESCALATION_REASONS)
            plan.message(MessageKind.NOTE, agent, f"Escalated: {reason}", closed_at)
            self._close(session, closed_at, SessionOutcome.ESCALATED)
            plan.event(TaskEventKind.ESCALATED, closed_at, agent, session=len(plan.sessions) - 1)
            plan.fields.update(status=TaskStatus.ESCALATED, escalation_reason=reason)
        else:
            code = rng.choices(self.codes, weights=self.code_weights)[0]
            self._close(session, closed_at, SessionOutcome.RESOLVED, resolution_code=code)
            plan.event(TaskEventKind.RESOLVED, closed_at, agent, session=len(plan.sessions) - 1)
            plan.fields.update(
                status=TaskStatus.RESOLVED, resolved_at=closed_at, resolution_code=code
            )
            if rng.random() < RATED_SHARE:
                score = rng.choices((1, 2, 3, 4, 5), weights=CSAT_WEIGHTS[style.csat])[0]
                rated_at = closed_at + _seconds(_lognormal(rng, 15 * 60, 0.9))
                if rng.random() < LATE_RATING_SHARE:
                    # The survey answered the next day.
                    rated_at = closed_at + _seconds(rng.uniform(12 * 3600, 40 * 3600))
                rated_at = min(
                    rated_at, max(closed_at + timedelta(seconds=30), self.now - timedelta(hours=1))
                )
                comment = CSAT_COMMENTS.get(score, "") if rng.random() < 0.4 else ""
                plan.event(TaskEventKind.RATED, rated_at, score=score)
                plan.fields.update(csat_score=score, csat_comment=comment, csat_at=rated_at)
                updated_at = rated_at
        plan.fields["updated_at"] = updated_at
        return plan

    def _claim(self, plan: _Plan, agent: User, since: datetime, claimed_at: datetime) -> datetime:
        """The claim at ``claimed_at`` (on a directed gig, after the offers that
        led to it: some lapse or are declined first); the actual claim moment."""
        if not self.directed:
            plan.event(TaskEventKind.CLAIMED, claimed_at, agent, session=len(plan.sessions))
            return claimed_at
        rng, timeout = self.rng, self.gig.reservation_timeout_seconds
        # Offers before the accepted one, each to another agent.
        others = [w for w in self.workers if w != agent]
        refused: list[tuple[User, str, int]] = []
        for other in rng.sample(others, k=len(others)):
            roll = rng.random()
            if roll < OFFER_LAPSE_SHARE:
                refused.append((other, ReservationOutcome.LAPSED, timeout + rng.randint(1, 3)))
            elif roll < OFFER_LAPSE_SHARE + OFFER_DECLINE_SHARE:
                refused.append((other, ReservationOutcome.REJECTED, rng.randint(4, timeout - 2)))
            else:
                break
        accept_after = rng.randint(3, max(4, timeout - 3))
        chain = sum(seconds + 1 for _, _, seconds in refused) + accept_after
        # Nobody free until the first offer (the wait not spent on offers).
        offered_at = max(since + timedelta(seconds=1), claimed_at - timedelta(seconds=chain))
        for other, outcome, seconds in refused:
            decided_at = offered_at + timedelta(seconds=seconds)
            self._offer(plan, other, offered_at, outcome, decided_at)
            plan.event(
                TaskEventKind.RESERVATION_LAPSED
                if outcome == ReservationOutcome.LAPSED
                else TaskEventKind.RESERVATION_DECLINED,
                decided_at,
                other,
            )
            plan.event(TaskEventKind.QUEUED, decided_at)
            offered_at = decided_at + timedelta(seconds=1)
        claimed_at = offered_at + timedelta(seconds=accept_after)
        self._offer(plan, agent, offered_at, ReservationOutcome.ACCEPTED, claimed_at)
        plan.event(TaskEventKind.CLAIMED, claimed_at, agent, session=len(plan.sessions))
        return claimed_at

    def _offer(
        self, plan: _Plan, agent: User, at: datetime, outcome: str, decided_at: datetime
    ) -> None:
        expires_at = at + timedelta(seconds=self.gig.reservation_timeout_seconds)
        plan.reservations.append((agent, at, expires_at, outcome, decided_at))
        plan.event(TaskEventKind.OFFERED, at, agent, reservation=len(plan.reservations) - 1)

    @staticmethod
    def _open(plan: _Plan, agent: User, at: datetime) -> _Session:
        session = _Session(agent=agent, started_at=at)
        plan.sessions.append(session)
        return session

    @staticmethod
    def _close(
        session: _Session,
        at: datetime,
        outcome: str,
        *,
        resolution_code: str = "",
        last_heartbeat: datetime | None = None,
    ) -> None:
        session.ended_at, session.outcome = at, outcome
        session.resolution_code = resolution_code
        session.last_heartbeat_at = last_heartbeat or at


# --- Who works which gig, and how ---------------------------------------------------------


def gig_workers(gig: Gig) -> list[User]:
    """The brand's approved pool agents who speak the gig's language at its
    level and have every skill it requires, by id."""
    required = set(gig.required_skills.values_list("pk", flat=True))
    speakers = AgentLanguage.objects.filter(
        language=gig.language,
        # CEFR levels sort as strings: A1 < A2 < B1 < B2 < C1 < C2.
        level__gte=gig.min_language_level,
        profile__user__in=PoolMembership.objects.filter(
            brand_id=gig.brand_id, status=PoolStatus.APPROVED
        ).values("agent_id"),
    ).values_list("profile__user_id", flat=True)
    agents = User.objects.filter(pk__in=speakers).select_related("agent_profile").order_by("pk")
    return [
        agent
        for agent in agents
        if required <= set(agent.agent_profile.skills.values_list("pk", flat=True))
    ]


def agent_styles(
    agents: list[User], rng: random.Random, *, top: frozenset[int] = frozenset()
) -> dict[int, AgentStyle]:
    """Each agent's way of working a brand's tasks (``agents`` by id). Agents
    at the pool's top tier (ids in ``top``) are rated better than most; of
    the others, the one in the middle of the list is noticeably slower,
    slower to answer and rated worse."""
    styles = {}
    others = [agent for agent in agents if agent.pk not in top]
    slow = others[len(others) // 2].pk if len(others) > 2 else None
    for agent in agents:
        if agent.pk == slow:
            styles[agent.pk] = AgentStyle(
                speed=2.2, reply_seconds=130, csat=-2, escalate_share=0.18, share=0.8
            )
            continue
        styles[agent.pk] = AgentStyle(
            speed=rng.uniform(0.7, 1.3),
            reply_seconds=rng.uniform(25, 75),
            csat=1 if agent.pk in top else rng.choices((1, 0, -1), weights=(3, 5, 2))[0],
            escalate_share=rng.uniform(0.07, 0.15),
            share=rng.uniform(0.6, 1.4),
        )
    return styles


# --- Writing ------------------------------------------------------------------------------


def _bulk_create(model, objs: list, batch_size: int = 500) -> list:
    return model.objects.bulk_create(objs, batch_size=batch_size)


def _backdate(model, rows: list[tuple], fields: tuple[str, ...]) -> None:
    """Set the ``fields`` (auto_now_add or auto_now, which every insert stamps
    with the current time) of ``model`` rows to their historical values:
    ``rows`` are ``(pk, *values)``. One statement run for all rows;
    ``bulk_update`` builds a CASE per field and row, many times slower here."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(
        f"{connection.ops.quote_name(model._meta.get_field(name).column)} = %s" for name in fields
    )
    pk = connection.ops.quote_name(model._meta.pk.column)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {columns} WHERE {pk} = %s",  # names from _meta, values bound
            [(*(adapt(value) for value in values), key) for key, *values in rows],
        )


def _write_gig(gig: Gig, plans: list[_Plan]) -> list[WorkRecord]:
    """Write the planned tasks of ``gig``, their messages, offers, sessions,
    records and events; the work records, unposted."""
    brand = gig.brand
    tasks = [
        Task(
            brand=brand,
            gig=gig,
            language=gig.language,
            external_id=f"{EXTERNAL_ID_PREFIX}-{gig.pk}-{plan.number:05d}",
            **plan.fields,
        )
        for plan in plans
    ]
    _bulk_create(Task, tasks)
    # created_at is auto_now_add: the history's own times go in afterwards
    # (updated_at too: bulk_create stamps it with the insert time).
    _backdate(
        Task,
        [
            (task.pk, plan.created_at, plan.fields["updated_at"])
            for task, plan in zip(tasks, plans, strict=True)
        ],
        ("created_at", "updated_at"),
    )

    messages: list[list[Message]] = []
    reservations: list[list[TaskReservation]] = []
    sessions: list[list[WorkSession]] = []
    for task, plan in zip(tasks, plans, strict=True):
        messages.append(
            [
                Message(
                    task=task,
                    brand=brand,
                    kind=kind,
                    author=author,
                    author_name=author.public_name if author else "Customer",
                    body=body,
                )
                for kind, author, body, _ in plan.messages
            ]
        )
        reservations.append(
            [
                TaskReservation(
                    task=task,
                    agent=agent,
                    created_at=at,
                    expires_at=expires_at,
                    outcome=outcome,
                    decided_at=decided_at,
                )
                for agent, at, expires_at, outcome, decided_at in plan.reservations
            ]
        )
        sessions.append(
            [
                WorkSession(
                    task=task,
                    agent=session.agent,
                    brand=brand,
                    gig=gig,
                    pay_model=gig.pay_model,
                    rate_minor=gig.rate_minor,
                    currency=gig.currency,
                    grace_seconds=gig.heartbeat_grace_seconds,
                    lease_seconds=gig.lease_seconds,
                    max_billable_seconds=gig.max_billable_minutes * 60,
                    started_at=session.started_at,
                    active_since=session.started_at,
                    last_heartbeat_at=session.last_heartbeat_at,
                    ended_at=session.ended_at,
                    outcome=session.outcome,
                )
                for session in plan.sessions
            ]
        )
    all_messages = [message for group in messages for message in group]
    _bulk_create(Message, all_messages)
    _backdate(
        Message,
        [
            (message.pk, at)
            for group, plan in zip(messages, plans, strict=True)
            for message, (_, _, _, at) in zip(group, plan.messages, strict=True)
        ],
        ("created_at",),
    )
    _bulk_create(TaskReservation, [r for group in reservations for r in group])
    _bulk_create(WorkSession, [s for group in sessions for s in group])

    records = []
    for task, group, plan in zip(tasks, sessions, plans, strict=True):
        for session, planned in zip(group, plan.sessions, strict=True):
            records.append(
                WorkRecord(
                    session=session,
                    agent=session.agent,
                    task=task,
                    gig=gig,
                    brand=brand,
                    started_at=session.started_at,
                    ended_at=session.ended_at,
                    billable_seconds=session_billable_ms(session, session.ended_at) // 1000,
                    outcome=session.outcome,
                    resolution_code=planned.resolution_code,
                    pay_model=gig.pay_model,
                    rate_minor=gig.rate_minor,
                    currency=gig.currency,
                )
            )
    _bulk_create(WorkRecord, records)

    events = []
    for task, plan, group_m, group_r, group_s in zip(
        tasks, plans, messages, reservations, sessions, strict=True
    ):
        rows = {"message": group_m, "reservation": group_r, "session": group_s}
        for kind, at, agent, data, refs in plan.events:
            ids = {name: rows[name][index].pk for name, index in refs.items()}
            events.append(
                task_event_new(task, kind, at, agent_id=agent.pk if agent else None, **data, **ids)
            )
    for start in range(0, len(events), 2000):
        task_events_record(events[start : start + 2000])
    return records


def _admin(brand: Brand) -> User | None:
    membership = (
        BrandMembership.objects.filter(brand=brand, role=BrandRole.ADMIN)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership else brand.created_by


def _pay(brand: Brand, records: list[WorkRecord], *, start: datetime) -> None:
    """Post the records' earnings in the order the work ended, 30 days at a
    time, each month's after a top-up by the brand's admin that covers it, so
    the brand's balance never dips below zero."""
    admin = _admin(brand)
    fee_bps = brand_terms(brand.pk).platform_fee_bps
    months: dict[int, list[WorkRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.ended_at, r.pk)):
        months[max(0, (record.ended_at - start).days // 30)].append(record)
    for month in sorted(months):
        due: dict[str, int] = defaultdict(int)
        for record in months[month]:
            amount, fee = earning_amounts(record, fee_bps=fee_bps)
            due[record.currency] += amount + fee
        for currency, cost in sorted(due.items()):
            if cost <= 0:
                continue
            # Round up to a whole 500.00, as a brand paying in advance would.
            amount = -(-cost // 500_00) * 500_00
            top_up = TopUp.objects.create(
                brand=brand, currency=currency, amount_minor=amount, created_by=admin
            )
            topup_credit(top_up, memo=f"Top-up #{top_up.pk} (demo history)", reference="demo")
            paid_at = start + timedelta(days=30 * month) - timedelta(hours=2)
            TopUp.objects.filter(pk=top_up.pk).update(created_at=paid_at, paid_at=paid_at)
        for record in months[month]:
            earning_post(work_record=record)


def seed_history(
    *,
    brands: Iterable[Brand],
    now: datetime,
    rng: random.Random,
    days: int = HISTORY_DAYS,
) -> int:
    """Give every gig of ``brands`` ``days`` of history before ``now``; the
    number of tasks written (0 when every gig already has its history).

    Run it in a transaction, after the brands' pools and gigs exist. The
    workers of a gig are its brand's approved pool agents who qualify for it
    (``gig_workers``); a gig nobody qualifies for gets no history.
    """
    start = now - timedelta(days=days)
    end = now - HISTORY_GAP
    written = 0
    for brand in sorted(brands, key=lambda b: b.pk):
        gigs = list(Gig.objects.filter(brand=brand).select_related("brand").order_by("pk"))
        workers = {gig.pk: gig_workers(gig) for gig in gigs}
        everyone = sorted({a for group in workers.values() for a in group}, key=lambda a: a.pk)
        if not everyone:
            continue
        top = frozenset(
            PoolMembership.objects.filter(brand=brand, tier=PoolTier.TOP).values_list(
                "agent_id", flat=True
            )
        )
        styles = agent_styles(everyone, rng, top=top)
        worked = [gig for gig in gigs if workers[gig.pk]]
        weights = {gig.pk: rng.uniform(0.7, 1.3) for gig in worked}
        records: list[WorkRecord] = []
        with transaction.atomic():
            for gig in worked:
                prefix = f"{EXTERNAL_ID_PREFIX}-{gig.pk}-"
                if Task.objects.filter(brand=brand, external_id__startswith=prefix).exists():
                    continue
                history = _GigHistory(
                    gig, workers[gig.pk], styles, start=start, end=end, now=now, rng=rng
                )
                plans = [
                    history.plan(number, at)
                    for number, at in enumerate(
                        history.arrivals(weights[gig.pk] / sum(weights.values())), start=1
                    )
                ]
                records += _write_gig(gig, plans)
                written += len(plans)
            _pay(brand, records, start=start)
    if written:
        # Earnings whose hold has ended move to available, as the periodic job
        # would have done: here, inside the caller's transaction, rather than
        # after it, one commit per earning.
        earnings_release_due(now=now)
    return written
