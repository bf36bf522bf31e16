"""Build the demo world: brands, their teams, gigs, agents with profiles and
pools, tasks with conversations, the work agents did on them and its ratings.

Every row is found by a natural key (email, slug, title, external_id) before it
is created, so running the command again adds nothing. The data is drawn from
a fixed random seed: every machine gets the same world.

Each brand has an open-claim and a directed gig that pool agents qualify for,
and tasks waiting in every gig, so that agents who go online see offers at
once: agent01 and agent02 both qualify for Acme's open English queue and see
the same tasks there.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from analytics.rollup import rollup_pending
from assessments.models import Attempt
from brands.models import (
    Brand,
    BrandHoliday,
    BrandMembership,
    BrandRole,
    BusinessHours,
    PoolMembership,
    PoolStatus,
    PoolTier,
)
from gigs.dispatch import session_billable_ms
from gigs.events import task_events_backfill
from gigs.models import (
    CannedReply,
    DispatchMode,
    Gig,
    Message,
    MessageKind,
    PayModel,
    SessionOutcome,
    Task,
    TaskPriority,
    TaskStatus,
    WorkRecord,
    WorkSession,
)
from gigs.services import DEFAULT_RESOLUTION_CODES, resolution_codes_seed
from marketplace.languages import CEFRLevel
from marketplace.management.demo_assessments import seed_assessments
from marketplace.management.demo_history import HISTORY_DAYS, seed_history
from marketplace.management.demo_qa import seed_qa
from marketplace.models import (
    AccountType,
    AgentLanguage,
    AgentProfile,
    AvailabilitySlot,
    Skill,
    User,
)
from payouts.earnings import earning_post, earnings_release_due
from payouts.funding import topup_credit, topup_currencies
from payouts.models import TopUp
from qa.standing import standing_refresh_all

# What each demo brand has paid in, per currency, before any work.
DEMO_TOP_UP_MINOR = 2_000_00
DEMO_PASSWORD = "gigdesk-demo"

SKILLS = {
    "billing": "Billing",
    "refunds": "Refunds",
    "shipping": "Shipping & delivery",
    "returns": "Returns",
    "tech-support": "Technical support",
    "mobile-plans": "Mobile plans",
    "roaming": "Roaming",
    "outdoor-gear": "Outdoor gear",
    "account-security": "Account security",
    "complaints": "Complaint handling",
    "chat": "Live chat",
    "email": "Email support",
}

BRANDS = [
    {
        "slug": "acme-outdoors",
        "name": "Acme Outdoors",
        "time_zone": "Europe/Berlin",
        # Weekday (0 = Monday) → (opens, closes), in the brand's time zone.
        "business_hours": [(day, time(8), time(20)) for day in range(5)] + [(5, time(9), time(14))],
        "holidays": [(date(2026, 12, 25), "Christmas Day"), (date(2027, 1, 1), "New Year's Day")],
        "team": [
            ("admin@acme.demo", "Hanna Vogel", BrandRole.ADMIN),
            ("qa@acme.demo", "Jonas Keller", BrandRole.QA_REVIEWER),
            ("viewer@acme.demo", "Mia Schulz", BrandRole.VIEWER),
        ],
        # Agent numbers (agentNN@gigdesk.demo), approved in this order: the
        # first speakers of each gig's language are given its skills.
        "pool": [1, 2, 4, 10, 12, 16, 18, 19, 21, 23],
        "applicants": [6, 15],
        "canned_replies": [
            (
                "Order tracking",
                "en",
                "Thanks for your patience! I've checked your order: it is with the carrier "
                "and should reach you within [days] working days. Here is your tracking "
                "link: [link].",
            ),
            (
                "Free returns",
                "en",
                "Returns are free within 30 days. I've emailed you a prepaid return label; "
                "your refund goes out as soon as the parcel reaches our warehouse.",
            ),
            (
                "Seguimiento del pedido",
                "es",
                "¡Gracias por tu paciencia! Tu pedido ya está con la empresa de transporte y "
                "llegará en [días] días laborables. Puedes seguirlo aquí: [enlace].",
            ),
            (
                "Schlafsack-Beratung",
                "de",
                "Für Touren bis -5 °C empfehlen wir einen Schlafsack mit einer "
                "Komforttemperatur von höchstens -5 °C, zum Beispiel den Summit 700.",
            ),
        ],
        "gigs": [
            (
                "Order & delivery questions (EN)",
                "en",
                PayModel.PER_RESOLUTION,
                240,
                "EUR",
                ["shipping", "returns", "chat"],
                DispatchMode.OPEN,
            ),
            (
                "Preguntas de pedidos y envíos (ES)",
                "es",
                PayModel.PER_RESOLUTION,
                220,
                "EUR",
                ["shipping", "returns"],
                DispatchMode.OPEN,
            ),
            (
                "Gear advice, live chat (DE)",
                "de",
                PayModel.PER_MINUTE,
                35,
                "EUR",
                ["outdoor-gear", "chat"],
                DispatchMode.DIRECTED,
            ),
            (
                "Refund requests (EN)",
                "en",
                PayModel.PER_RESOLUTION,
                300,
                "EUR",
                ["refunds", "billing", "complaints"],
                DispatchMode.DIRECTED,
            ),
        ],
    },
    {
        "slug": "borealis-telecom",
        "name": "Borealis Telecom",
        "time_zone": "Europe/Madrid",
        "team": [
            ("admin@borealis.demo", "Lucía Martín", BrandRole.ADMIN),
            ("qa@borealis.demo", "Pablo Ortega", BrandRole.QA_REVIEWER),
        ],
        "pool": [2, 9, 20, 3, 14, 17, 13, 22, 24],
        "applicants": [7],
        "canned_replies": [
            (
                "Explicación de la factura",
                "es",
                "He revisado tu factura: el importe extra corresponde a [concepto]. Ya he "
                "solicitado el abono, que verás en tu próxima factura.",
            ),
            (
                "Roaming checklist",
                "en",
                "Let's get you connected: please switch your phone off and on, check that "
                "data roaming is on in Settings, and choose the network manually.",
            ),
            (
                "Réinitialiser le mot de passe",
                "fr",
                "Je viens de vous envoyer un nouveau lien de réinitialisation. Pensez à "
                "vérifier vos courriers indésirables ; le lien reste valable une heure.",
            ),
        ],
        "gigs": [
            (
                "Facturación y tarifas (ES)",
                "es",
                PayModel.PER_MINUTE,
                30,
                "EUR",
                ["billing", "mobile-plans"],
                DispatchMode.OPEN,
            ),
            (
                "Roaming & plans (EN)",
                "en",
                PayModel.PER_MINUTE,
                32,
                "EUR",
                ["roaming", "mobile-plans"],
                DispatchMode.DIRECTED,
            ),
            (
                "Assistance technique (FR)",
                "fr",
                PayModel.PER_RESOLUTION,
                350,
                "EUR",
                ["tech-support", "account-security"],
                DispatchMode.OPEN,
            ),
        ],
    },
    {
        "slug": "lumen-home",
        "name": "Lumen Home",
        "time_zone": "America/New_York",
        "team": [("admin@lumen.demo", "Grace Porter", BrandRole.ADMIN)],
        "pool": [1, 6, 7, 8, 11, 16, 19, 21, 23],
        "applicants": [24],
        "canned_replies": [
            (
                "Pairing steps",
                "en",
                "Let's pair your bulb: switch it off and on three times, wait for it to "
                "blink, then tap + in the Lumen app and choose the bulb.",
            ),
            (
                "Warranty terms",
                "en",
                "Every Lumen product has a two-year warranty. Please send a photo of the "
                "product and your order number and we'll arrange a replacement.",
            ),
            (
                "Ask for a photo",
                "en",
                "Could you send me a photo of the device and its label? It helps me find "
                "the exact model and the quickest fix.",
            ),
        ],
        "gigs": [
            (
                "Smart lighting setup help (EN)",
                "en",
                PayModel.PER_RESOLUTION,
                400,
                "USD",
                ["tech-support", "email"],
                DispatchMode.OPEN,
            ),
            (
                "Warranty claims (EN)",
                "en",
                PayModel.PER_MINUTE,
                40,
                "USD",
                ["returns", "complaints"],
                DispatchMode.DIRECTED,
            ),
        ],
    },
]

AGENT_NAMES = [
    ("Amara Okafor", "NG", "Africa/Lagos", [("en", "C2"), ("fr", "B1")]),
    ("Bruno Costa", "PT", "Europe/Lisbon", [("pt", "C2"), ("es", "C1"), ("en", "B2")]),
    ("Chloé Martin", "FR", "Europe/Paris", [("fr", "C2"), ("en", "C1")]),
    ("Diego Ramírez", "MX", "America/Mexico_City", [("es", "C2"), ("en", "C1")]),
    ("Elif Yıldız", "TR", "Europe/Istanbul", [("tr", "C2"), ("en", "C1"), ("de", "B2")]),
    ("Femi Adeyemi", "GH", "Africa/Accra", [("en", "C2")]),
    ("Greta Lindqvist", "SE", "Europe/Stockholm", [("sv", "C2"), ("en", "C2"), ("de", "B1")]),
    ("Hiro Tanaka", "JP", "Asia/Tokyo", [("ja", "C2"), ("en", "B2")]),
    ("Inés Navarro", "ES", "Europe/Madrid", [("es", "C2"), ("en", "C1"), ("fr", "B2")]),
    ("Jakub Nowak", "PL", "Europe/Warsaw", [("pl", "C2"), ("en", "C1"), ("de", "C1")]),
    ("Kavya Rao", "IN", "Asia/Kolkata", [("en", "C2"), ("hi", "C2")]),
    ("Lena Hoffmann", "DE", "Europe/Berlin", [("de", "C2"), ("en", "C1")]),
    ("Mateo Rossi", "IT", "Europe/Rome", [("it", "C2"), ("en", "B2"), ("es", "B2")]),
    ("Nadia Haddad", "MA", "Africa/Casablanca", [("ar", "C2"), ("fr", "C1"), ("en", "B2")]),
    ("Oscar Silva", "BR", "America/Sao_Paulo", [("pt", "C2"), ("en", "B2"), ("es", "B1")]),
    ("Priya Shah", "GB", "Europe/London", [("en", "C2"), ("es", "B1")]),
    ("Quentin Dubois", "BE", "Europe/Brussels", [("fr", "C2"), ("nl", "C1"), ("en", "C1")]),
    ("Rosa Jiménez", "AR", "America/Argentina/Buenos_Aires", [("es", "C2"), ("en", "B2")]),
    ("Sam Carter", "US", "America/Chicago", [("en", "C2"), ("es", "A2")]),
    ("Tomás Herrera", "CO", "America/Bogota", [("es", "C2"), ("en", "C1")]),
    ("Uma Brennan", "IE", "Europe/Dublin", [("en", "C2"), ("de", "B1")]),
    ("Viktor Petrov", "BG", "Europe/Sofia", [("bg", "C2"), ("en", "C1"), ("ru", "C1")]),
    ("Wen Li", "SG", "Asia/Singapore", [("zh", "C2"), ("en", "C2")]),
    ("Yasmin Farouk", "EG", "Africa/Cairo", [("ar", "C2"), ("en", "C1")]),
]

CONVERSATIONS = {
    "en": [
        (
            "Where is my order?",
            "Hi, I ordered a tent last week and the tracking has not moved for four days. Can you check?",
        ),
        (
            "Wrong size delivered",
            "The hiking boots arrived in size 42 but I ordered 43. How do I swap them?",
        ),
        (
            "Refund not received",
            "I returned a jacket two weeks ago and still have no refund on my card.",
        ),
        ("Charged twice", "My card statement shows the same charge twice for order 58213."),
        (
            "Roaming not working",
            "I'm in Portugal and my phone shows no service even though roaming is on.",
        ),
        (
            "Change my plan",
            "I'd like to move to the unlimited plan from next month. What does it cost?",
        ),
        ("Lights won't pair", "My new smart bulbs blink three times and never show up in the app."),
        (
            "Warranty question",
            "The lamp stopped working after 10 months. Is it still under warranty?",
        ),
        ("Cancel my order", "Please cancel order 77120, I bought the wrong colour."),
        ("Discount code rejected", "The code SPRING15 says it is invalid at checkout."),
    ],
    "es": [
        (
            "¿Dónde está mi pedido?",
            "Hola, hice un pedido hace una semana y el seguimiento no se actualiza.",
        ),
        ("Factura incorrecta", "Este mes me han cobrado 12 euros de más en la factura del móvil."),
        ("Cambio de tarifa", "Quiero cambiarme a la tarifa con más datos. ¿Cómo lo hago?"),
        (
            "Devolución de un producto",
            "La mochila llegó con una cremallera rota. ¿Cómo la devuelvo?",
        ),
        ("Cargo duplicado", "Veo dos cargos iguales en mi cuenta por el mismo pedido."),
        ("Sin cobertura", "Desde ayer no tengo cobertura en casa, en Valencia."),
    ],
    "fr": [
        (
            "Connexion impossible",
            "Je n'arrive plus à me connecter à mon espace client depuis hier.",
        ),
        ("Box internet en panne", "Ma box clignote en rouge et je n'ai plus internet."),
        ("Mot de passe oublié", "Je ne reçois pas l'e-mail de réinitialisation du mot de passe."),
        ("Compte bloqué", "Mon compte a été bloqué après trois tentatives, pouvez-vous m'aider ?"),
    ],
    "de": [
        (
            "Welcher Schlafsack?",
            "Ich plane eine Tour im Oktober in den Alpen. Welcher Schlafsack reicht bis -5 °C?",
        ),
        ("Zelt für zwei Personen", "Ist das Trailhead 2 leicht genug für eine Woche Trekking?"),
        ("Größenberatung Wanderschuhe", "Fallen die Summit-Schuhe eher klein oder groß aus?"),
        ("Regenjacke imprägnieren", "Wie oft muss ich die Jacke neu imprägnieren?"),
    ],
}

AGENT_REPLIES = {
    "en": "Thanks for reaching out! I've checked your order and I'm on it.",
    "es": "¡Gracias por escribirnos! Ya estoy revisando tu caso.",
    "fr": "Merci pour votre message, je regarde votre dossier tout de suite.",
    "de": "Danke für Ihre Nachricht! Ich schaue mir das gleich an.",
}

# Gigs whose language minimum is not the default (C1, or B2 for English):
# Borealis' Spanish billing gig takes agents certified at B2 in written Spanish.
GIG_MIN_LANGUAGE_LEVELS = {"Facturación y tarifas (ES)": CEFRLevel.B2}

TASKS_PER_GIG = 28
# The first tasks of each gig wait in the queue, arrived in the last hour or so.
QUEUED_PER_GIG = 5
# The next ones were worked earlier today; the rest over the past two weeks.
RECENT_PER_GIG = 6
# Pool agents who speak a gig's language and are given its skills, so that
# every gig has agents who qualify for it.
QUALIFIED_PER_GIG = 3

RESOLUTION_CODE_WEIGHTS = {
    "answered": 40,
    "refund_issued": 12,
    "replacement_sent": 10,
    "order_updated": 20,
    "no_customer_reply": 8,
    "duplicate": 3,
}
ESCALATION_REASONS = [
    "The customer asks for a goodwill credit beyond what agents may grant.",
    "Possible fraud on the account: needs the in-house security team.",
    "The customer mentions a safety problem with the product.",
]
CSAT_COMMENTS = {
    5: "Quick and friendly, thank you!",
    4: "Solved, took a little while.",
    2: "I had to explain everything twice.",
    1: "Still not fixed.",
}


class Command(BaseCommand):
    help = "Create the demo world (idempotent) and print the demo logins."
    _password_hash: str | None = None

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has a brand (used by ./dev.sh run).",
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help=f"Days of past support history per gig (default {HISTORY_DAYS}).",
        )

    def handle(self, *args, if_empty: bool = False, history_days: int = HISTORY_DAYS, **options):
        if history_days < 0:
            raise CommandError("--history-days cannot be negative.")
        if if_empty and Brand.objects.exists():
            self.stdout.write("The database already has data; demo seeding skipped.")
        else:
            with transaction.atomic():
                counts = self.seed(history_days=history_days)
            # Work older than its brand's hold has cleared, as the periodic job would have done.
            earnings_release_due()
            # The dashboards' hourly roll-ups, as the periodic job would leave them.
            rollup_pending()
            self.stdout.write(
                self.style.SUCCESS(
                    "Demo world ready: {brands} brands, {gigs} gigs, {agents} agents, "
                    "{tasks} tasks ({new_tasks} new), {attempts} assessment attempts "
                    "({new_attempts} new).".format(**counts)
                )
            )
        self.print_logins()

    # --- building ---------------------------------------------------------------

    def user(self, email: str, full_name: str, account_type: str, *, staff: bool = False) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            if self._password_hash is None:
                # Hashing is slow on purpose; every demo user shares one password.
                self._password_hash = make_password(DEMO_PASSWORD)
            user = User.objects.create_user(
                email=email,
                password=None,
                full_name=full_name,
                account_type=account_type,
                is_staff=staff,
                is_superuser=staff,
            )
            user.password = self._password_hash
            user.save(update_fields=["password"])
        # Demo addresses are verified so the logins work without an inbox.
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user

    def seed(self, *, history_days: int = HISTORY_DAYS) -> dict[str, int]:
        rng = random.Random(2026)
        # Each demo agent's languages and levels, by user id, for ``qualify``.
        self.agent_languages: dict[int, dict[str, str]] = {}
        staff = self.user("staff@gigdesk.demo", "Sasha Staff", AccountType.BRAND, staff=True)
        # A pay run is approved by someone other than its creator: a second staff member.
        self.user("approver@gigdesk.demo", "Robin Approver", AccountType.BRAND, staff=True)
        skills = {
            slug: Skill.objects.get_or_create(slug=slug, defaults={"name": name})[0]
            for slug, name in SKILLS.items()
        }
        agents = [self.agent(i, spec, skills, rng) for i, spec in enumerate(AGENT_NAMES, 1)]
        new_tasks = 0
        gigs: list[Gig] = []
        for spec in BRANDS:
            brand, created = Brand.objects.get_or_create(
                slug=spec["slug"], defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
            )
            admin = None
            for email, name, role in spec["team"]:
                user = self.user(email, name, AccountType.BRAND)
                BrandMembership.objects.get_or_create(
                    brand=brand, user=user, defaults={"role": role}
                )
                if role == BrandRole.ADMIN:
                    admin = admin or user
                if created and role == BrandRole.ADMIN and brand.created_by is None:
                    brand.created_by = user
                    brand.save(update_fields=["created_by"])
            resolution_codes_seed(brand)
            self.canned_replies(brand, spec["canned_replies"])
            self.business_hours(brand, spec)
            pool = self.pool(brand, spec, agents, admin, rng)
            brand_gigs = []
            for title, language, pay_model, rate, currency, skill_slugs, mode in spec["gigs"]:
                gig, _ = Gig.objects.get_or_create(
                    brand=brand,
                    title=title,
                    defaults={
                        "description": f"{title}: answer customers of {brand.name} kindly, "
                        "accurately and fast. Escalate anything about legal threats or "
                        "safety to the in-house team.",
                        "language": language,
                        "min_language_level": GIG_MIN_LANGUAGE_LEVELS.get(
                            title, CEFRLevel.C1 if language != "en" else CEFRLevel.B2
                        ),
                        "pay_model": pay_model,
                        "rate_minor": rate,
                        "currency": currency,
                        "max_tasks_per_agent": 1 if pay_model == PayModel.PER_MINUTE else 3,
                        "sla_first_response_seconds": 5 * 60
                        if pay_model == PayModel.PER_MINUTE
                        else 30 * 60,
                        "budget_cap_minor": 500_000,
                        "dispatch_mode": mode,
                    },
                )
                gig_skills = [skills[s] for s in skill_slugs]
                gig.required_skills.add(*gig_skills)
                gigs.append(gig)
                brand_gigs.append((gig, gig_skills))
            # Money first, as a real brand's would be: its statement then never
            # dips below zero while the seeded work is paid for.
            self.fund(brand, admin)
            for gig, gig_skills in brand_gigs:
                workers = self.qualify(gig, gig_skills, pool)
                new_tasks += self.tasks(brand, gig, workers, rng)
        # Once every brand exists (Acme owns one of them): the assessments,
        # the certifications brands require, and the attempts behind them.
        new_attempts = seed_assessments(
            staff=staff, agents=agents, agent_languages=self.agent_languages
        )
        # Acme's scorecards, reviewers, review queue and review history.
        seed_qa(staff=staff, agents=agents, make_user=self.user, work=self.work)
        # Ninety days of support history before today's, as the live services
        # would have written it, for the analytics (idempotent per gig).
        seed_history(
            brands=Brand.objects.filter(slug__in=[b["slug"] for b in BRANDS]),
            now=timezone.now(),
            rng=random.Random(90),
            days=history_days,
        )
        # What dispatch reads of QA (scores per gig, minimums keeping agents
        # off), as the nightly job would leave it.
        standing_refresh_all()
        # The seed writes tasks' rows directly, at historical times: their
        # event history (created, claimed, messages, closed, rated) follows
        # from those rows. Tasks seeded before keep the history they have.
        task_events_backfill(Task.objects.filter(brand__slug__in=[b["slug"] for b in BRANDS]))
        return {
            "brands": len(BRANDS),
            "gigs": len(gigs),
            "agents": len(agents),
            "tasks": Task.objects.filter(brand__slug__in=[b["slug"] for b in BRANDS]).count(),
            "new_tasks": new_tasks,
            "attempts": Attempt.objects.count(),
            "new_attempts": new_attempts,
        }

    def agent(self, n: int, spec, skills: dict[str, Skill], rng: random.Random) -> User:
        full_name, country, tz, languages = spec
        email = f"agent{n:02d}@gigdesk.demo"
        user = self.user(email, full_name, AccountType.AGENT)
        profile, created = AgentProfile.objects.get_or_create(
            user=user,
            defaults={
                "display_name": full_name.split(" ")[0],
                "country": country,
                "time_zone": tz,
                "bio": f"{full_name.split(' ')[0]} has worked in customer support for "
                f"{rng.randint(1, 9)} years.",
            },
        )
        if created:
            for code, level in languages:
                AgentLanguage.objects.get_or_create(
                    profile=profile, language=code, defaults={"level": level}
                )
            profile.skills.set(rng.sample(list(skills.values()), k=rng.randint(3, 6)))
            start = rng.choice([7, 8, 9, 13, 16])
            for weekday in sorted(rng.sample(range(7), k=rng.randint(3, 6))):
                AvailabilitySlot.objects.create(
                    profile=profile,
                    weekday=weekday,
                    starts_at=time(start, 0),
                    ends_at=time(min(start + rng.choice([4, 6, 8]), 23), 0),
                )
        self.agent_languages[user.pk] = dict(languages)
        return user

    def business_hours(self, brand: Brand, spec) -> None:
        # Only on a brand without hours: an admin's own changes are kept.
        if spec.get("business_hours") and not BusinessHours.objects.filter(brand=brand).exists():
            BusinessHours.objects.bulk_create(
                BusinessHours(brand=brand, weekday=day, opens=opens, closes=closes)
                for day, opens, closes in spec["business_hours"]
            )
        for day, name in spec.get("holidays", []):
            BrandHoliday.objects.get_or_create(brand=brand, date=day, defaults={"name": name})

    def canned_replies(self, brand: Brand, replies) -> None:
        for title, language, body in replies:
            CannedReply.objects.get_or_create(
                brand=brand, title=title, defaults={"language": language, "body": body}
            )

    def pool(self, brand: Brand, spec, agents: list[User], admin, rng: random.Random) -> list[User]:
        """Approve the brand's pool agents (in the spec's order) and file a few applications."""
        now = timezone.now()
        approved = []
        for n in spec["pool"]:
            agent = agents[n - 1]
            PoolMembership.objects.get_or_create(
                brand=brand,
                agent=agent,
                defaults={
                    "status": PoolStatus.APPROVED,
                    "tier": rng.choice(
                        [PoolTier.NEW, PoolTier.STANDARD, PoolTier.STANDARD, PoolTier.TRUSTED]
                    ),
                    "note": f"Happy to help {brand.name}'s customers.",
                    "decided_by": admin,
                    "decided_at": now - timedelta(days=rng.randint(3, 60)),
                },
            )
            approved.append(agent)
        for n in spec["applicants"]:
            PoolMembership.objects.get_or_create(
                brand=brand,
                agent=agents[n - 1],
                defaults={
                    "status": PoolStatus.APPLIED,
                    "note": f"I have supported customers like {brand.name}'s for years "
                    "and would love to join your pool.",
                },
            )
        return approved

    def qualify(self, gig: Gig, gig_skills: list[Skill], pool: list[User]) -> list[User]:
        """Pool agents who may work the gig: its first speakers (at its level) are
        given the skills it requires, so every gig has agents who qualify."""
        speakers = [
            agent
            for agent in pool
            # CEFR levels sort as strings: A1 < A2 < B1 < B2 < C1 < C2.
            if self.agent_languages[agent.pk].get(gig.language, "") >= gig.min_language_level
        ]
        for agent in speakers[:QUALIFIED_PER_GIG]:
            agent.agent_profile.skills.add(*gig_skills)
        required = {skill.pk for skill in gig_skills}
        workers = [
            agent
            for agent in speakers
            if required <= set(agent.agent_profile.skills.values_list("pk", flat=True))
        ]
        if not workers:
            raise CommandError(f"No pool agent of {gig.brand} speaks the language of “{gig}”.")
        return workers

    def tasks(self, brand: Brand, gig: Gig, workers: list[User], rng: random.Random) -> int:
        existing = set(
            Task.objects.filter(brand=brand, external_id__startswith=f"demo-{gig.pk}-").values_list(
                "external_id", flat=True
            )
        )
        conversations = CONVERSATIONS[gig.language]
        codes = [code for code, _ in DEFAULT_RESOLUTION_CODES]
        code_weights = [RESOLUTION_CODE_WEIGHTS.get(code, 1) for code in codes]
        now = timezone.now()
        created = 0
        for i in range(1, TASKS_PER_GIG + 1):
            external_id = f"demo-{gig.pk}-{i:03d}"
            if external_id in existing:
                continue
            subject, opening = rng.choice(conversations)
            if i <= QUEUED_PER_GIG:
                status = TaskStatus.QUEUED
                created_at = now - timedelta(minutes=rng.randint(2, 75))
            else:
                status = rng.choices(
                    [TaskStatus.RESOLVED, TaskStatus.ESCALATED, TaskStatus.CANCELLED],
                    weights=[78, 14, 8],
                )[0]
                # Old enough that the work on it (at most ~70 minutes) is over.
                oldest = 6 * 60 if i <= QUEUED_PER_GIG + RECENT_PER_GIG else 60 * 24 * 14
                created_at = now - timedelta(minutes=rng.randint(90, oldest))
            task = Task.objects.create(
                brand=brand,
                gig=gig,
                subject=subject,
                customer_reference=f"CUST-{rng.randint(10000, 99999)}",
                language=gig.language,
                priority=rng.choices(TaskPriority.values, weights=[15, 60, 20, 5])[0],
                external_id=external_id,
                status=status,
            )
            timeline = [
                (
                    Message(
                        task=task,
                        brand=brand,
                        kind=MessageKind.CUSTOMER,
                        author_name="Customer",
                        body=opening,
                    ),
                    created_at,
                )
            ]
            fields: dict = {"created_at": created_at, "updated_at": created_at}
            if status in (TaskStatus.RESOLVED, TaskStatus.ESCALATED):
                agent = rng.choice(workers)
                claimed_at = created_at + timedelta(
                    minutes=rng.randint(1, 25), seconds=rng.randint(0, 59)
                )
                replied_at = claimed_at + timedelta(minutes=rng.randint(1, 4))
                closed_at = replied_at + timedelta(
                    minutes=rng.randint(2, 35), seconds=rng.randint(0, 59)
                )
                timeline.append(
                    (
                        Message(
                            task=task,
                            brand=brand,
                            kind=MessageKind.AGENT,
                            author=agent,
                            author_name=agent.full_name,
                            body=AGENT_REPLIES[gig.language],
                        ),
                        replied_at,
                    )
                )
                if rng.random() < 0.5:
                    timeline.append(
                        (
                            Message(
                                task=task,
                                brand=brand,
                                kind=MessageKind.CUSTOMER,
                                author_name="Customer",
                                body="Thank you, that helps!",
                            ),
                            replied_at + timedelta(minutes=1),
                        )
                    )
                fields.update(
                    holder=agent, claimed_at=claimed_at, closed_at=closed_at, updated_at=closed_at
                )
                if status == TaskStatus.RESOLVED:
                    code = rng.choices(codes, weights=code_weights)[0]
                    fields.update(resolved_at=closed_at, resolution_code=code)
                    if rng.random() < 0.65:
                        score = rng.choices([1, 2, 3, 4, 5], weights=[4, 6, 12, 33, 45])[0]
                        rated_at = min(now, closed_at + timedelta(minutes=rng.randint(1, 120)))
                        fields.update(
                            csat_score=score,
                            csat_comment=CSAT_COMMENTS.get(score, "") if rng.random() < 0.4 else "",
                            csat_at=rated_at,
                            updated_at=rated_at,
                        )
                    outcome = SessionOutcome.RESOLVED
                else:
                    code = ""
                    reason = rng.choice(ESCALATION_REASONS)
                    fields["escalation_reason"] = reason
                    timeline.append(
                        (
                            Message(
                                task=task,
                                brand=brand,
                                kind=MessageKind.NOTE,
                                author=agent,
                                author_name=agent.full_name,
                                body=f"Escalated: {reason}",
                            ),
                            closed_at,
                        )
                    )
                    outcome = SessionOutcome.ESCALATED
                self.work(task, gig, agent, claimed_at, closed_at, outcome, code)
            elif status == TaskStatus.CANCELLED:
                # Withdrawn by the brand before anyone took it: no work was done.
                closed_at = created_at + timedelta(minutes=rng.randint(5, 80))
                fields.update(closed_at=closed_at, updated_at=closed_at)
            Message.objects.bulk_create([message for message, _ in timeline])
            # created_at is auto_now_add: give the history its own times afterwards.
            Task.objects.filter(pk=task.pk).update(**fields)
            for message, at in timeline:
                Message.objects.filter(pk=message.pk).update(created_at=at)
            created += 1
        return created

    def work(self, task, gig, agent, claimed_at, closed_at, outcome, resolution_code) -> None:
        """The finished work session and its work record, as dispatch writes them."""
        session = WorkSession.objects.create(
            task=task,
            agent=agent,
            brand=task.brand,
            gig=gig,
            pay_model=gig.pay_model,
            rate_minor=gig.rate_minor,
            currency=gig.currency,
            grace_seconds=gig.heartbeat_grace_seconds,
            lease_seconds=gig.lease_seconds,
            max_billable_seconds=gig.max_billable_minutes * 60,
            started_at=claimed_at,
            active_since=claimed_at,
            last_heartbeat_at=closed_at,
            ended_at=closed_at,
            outcome=outcome,
        )
        record = WorkRecord.objects.create(
            session=session,
            agent=agent,
            task=task,
            gig=gig,
            brand=task.brand,
            started_at=claimed_at,
            ended_at=closed_at,
            billable_seconds=session_billable_ms(session, closed_at) // 1000,
            outcome=outcome,
            resolution_code=resolution_code,
            pay_model=gig.pay_model,
            rate_minor=gig.rate_minor,
            currency=gig.currency,
        )
        # As dispatch does: the record's earning, posted to the ledger.
        earning_post(work_record=record)

    def fund(self, brand: Brand, admin: User) -> None:
        """A paid top-up per currency the brand's gigs use, as Stripe Checkout leaves
        one (the sandbox is not running while the demo is seeded)."""
        for currency in topup_currencies(brand=brand):
            if TopUp.objects.filter(brand=brand, currency=currency).exists():
                continue
            top_up = TopUp.objects.create(
                brand=brand,
                currency=currency,
                amount_minor=DEMO_TOP_UP_MINOR,
                created_by=admin,
            )
            topup_credit(top_up, memo=f"Top-up #{top_up.pk} (demo)", reference="demo")

    def print_logins(self) -> None:
        lines = [
            "",
            f"Demo logins (password for all: {DEMO_PASSWORD})",
            "  Brand admin    admin@acme.demo      (Acme Outdoors)",
            "  Brand admin    admin@borealis.demo  (Borealis Telecom)",
            "  QA reviewer    qa@acme.demo, qa2@acme.demo (second reviewer, for disputes)",
            "  Viewer         viewer@acme.demo",
            "  Agent          agent01@gigdesk.demo … agent24@gigdesk.demo",
            "                 (agent01 and agent02 share Acme's open queue: go online as both;",
            "                 agent05 may retake the Spanish assessment only after its cooldown)",
            "  Platform staff staff@gigdesk.demo   (asks you to set up two-factor first)",
            "                 approver@gigdesk.demo (approves pay runs staff@ creates)",
            "                 (written assessment answers wait in staff@'s grading queue)",
            "",
        ]
        self.stdout.write("\n".join(lines))
