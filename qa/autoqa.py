"""AutoQA: rule-based checks on a closed conversation, shown as suggestions only.

These are plain pattern checks, not judgements: a finding says what was
seen and the review page labels it "automatic check, may be wrong". None of
them sets a rating. Sensitive text is masked in the detail, since findings
are shown to more people than the conversation's participants.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

AGENT = "agent"
CUSTOMER = "customer"
SYSTEM = "system"

FIRST_RESPONSE_SLOW = "first_response_slow"
TOO_MANY_BACK_AND_FORTH = "too_many_back_and_forth"
GREETING_MISSING = "greeting_missing"
CLOSING_MISSING = "closing_missing"
POSSIBLE_LEAK = "possible_leak"

# Where a finding belongs on a scorecard; category keys differ per brand, so
# the page matches these hints against its categories.
CATEGORY_HINTS = {
    FIRST_RESPONSE_SLOW: "responsiveness",
    TOO_MANY_BACK_AND_FORTH: "resolution",
    GREETING_MISSING: "greeting",
    CLOSING_MISSING: "closing",
    POSSIBLE_LEAK: "data_protection",
}

PHONE_DIGITS = (10, 15)
CARD_DIGITS = (13, 19)
MAX_SINGLE_DIGIT_GROUPS = 2


@dataclass(frozen=True)
class MessageFacts:
    author: str  # "agent" | "customer" | "system"
    body: str
    at: datetime


@dataclass(frozen=True)
class Finding:
    kind: str
    category_hint: str
    detail: str
    leak: bool = False


def _finding(kind: str, detail: str, *, leak: bool = False) -> Finding:
    return Finding(kind=kind, category_hint=CATEGORY_HINTS[kind], detail=detail, leak=leak)


def findings(
    messages: Sequence[MessageFacts],
    *,
    sla_seconds: int | None,
    back_and_forth_limit: int | None,
    greetings: Sequence[str],
    closings: Sequence[str],
    allowed_email_domains: Sequence[str] = (),
) -> list[Finding]:
    """Every check's findings for one conversation, in a stable order.

    A None SLA or limit, or no configured phrases, turns that check off.
    ``allowed_email_domains`` (e.g. the brand's own support domain) are not
    leaks.
    """
    ordered = sorted(messages, key=lambda message: message.at)
    result: list[Finding] = []
    if sla_seconds is not None:
        result.extend(_first_response(ordered, sla_seconds))
    if back_and_forth_limit is not None:
        result.extend(_back_and_forth(ordered, back_and_forth_limit))
    agent_messages = [message for message in ordered if message.author == AGENT]
    if agent_messages:
        result.extend(_phrase_missing(GREETING_MISSING, agent_messages[0], greetings, "first"))
        result.extend(_phrase_missing(CLOSING_MISSING, agent_messages[-1], closings, "last"))
    for number, message in enumerate(agent_messages, start=1):
        for what in leaks(message.body, allowed_email_domains=allowed_email_domains):
            result.append(_finding(POSSIBLE_LEAK, f"{what} in agent reply {number}", leak=True))
    return result


# --- Response time and turns -------------------------------------------------------------


def _first_response(ordered: Sequence[MessageFacts], sla_seconds: int) -> list[Finding]:
    first_customer = next((m for m in ordered if m.author == CUSTOMER), None)
    if first_customer is None:
        return []
    position = ordered.index(first_customer)
    reply = next((m for m in ordered[position + 1 :] if m.author == AGENT), None)
    if reply is None:
        return [
            _finding(
                FIRST_RESPONSE_SLOW,
                f"No agent reply to the customer's first message (SLA {duration(sla_seconds)}).",
            )
        ]
    waited = (reply.at - first_customer.at).total_seconds()
    if waited <= sla_seconds:
        return []
    return [
        _finding(
            FIRST_RESPONSE_SLOW,
            f"First reply after {duration(waited)}; the SLA is {duration(sla_seconds)}.",
        )
    ]


def turn_switches(ordered: Sequence[MessageFacts]) -> int:
    """How often the conversation passes between agent and customer (system notes aside)."""
    authors = [m.author for m in ordered if m.author in (AGENT, CUSTOMER)]
    return sum(1 for before, after in zip(authors, authors[1:], strict=False) if before != after)


def _back_and_forth(ordered: Sequence[MessageFacts], limit: int) -> list[Finding]:
    switches = turn_switches(ordered)
    if switches <= limit:
        return []
    return [
        _finding(
            TOO_MANY_BACK_AND_FORTH,
            f"{switches} turns between agent and customer; the limit is {limit}.",
        )
    ]


def duration(seconds: float) -> str:
    """e.g. "45 s", "3 min 20 s", "1 h 12 min", "2 d 3 h"."""
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


# --- Greeting and closing ----------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, accents dropped, whitespace collapsed: "Bonjour  Zoé" → "bonjour zoe"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` appears in ``text`` as whole words ("hi" is not in "this")."""
    wanted = normalise(phrase)
    if not wanted:
        return False
    return re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", normalise(text)) is not None


def _phrase_missing(
    kind: str, message: MessageFacts, phrases: Sequence[str], which: str
) -> list[Finding]:
    configured = [phrase.strip() for phrase in phrases if phrase.strip()]
    if not configured or any(contains_phrase(message.body, phrase) for phrase in configured):
        return []
    listed = ", ".join(f"“{phrase}”" for phrase in configured)
    return [_finding(kind, f"The {which} agent message has none of: {listed}.")]


# --- Possible leaks ----------------------------------------------------------------------

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Dates and times are digit runs joined by separators, like phone numbers;
# they are blanked out before numbers are looked for.
DATE_OR_TIME = re.compile(
    r"(?<![\d-])\d{4}-\d{1,2}-\d{1,2}(?![\d-])"
    r"|(?<![\d./])\d{1,2}[/.]\d{1,2}[/.]\d{2,4}(?![\d./])"
    r"|(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])"
)
# A digit run with the separators phone and card numbers are written with:
# single spaces, dashes, dots, parentheses, and a leading +.
NUMBER = re.compile(r"(?<![\w+])\+?\(?\d(?:(?:[ .-]|\) ?| ?\()?\d)*\)?(?![\w])")
GROUP_SEPARATOR = re.compile(r"[ .()+-]+")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number; spaces and dashes are ignored."""
    cleaned = digits.replace(" ", "").replace("-", "")
    if len(cleaned) < 2 or not cleaned.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(cleaned)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_email(address: str) -> str:
    """First character of the mailbox and the domain: "j***@example.com"."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _classify_number(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    groups = [group for group in GROUP_SEPARATOR.split(text) if group]
    card_shaped = re.fullmatch(r"\d+(?:[ -]\d+)*", text) is not None
    if card_shaped and CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1] and luhn_valid(digits):
        return f"card-like number ending {digits[-4:]}"
    # Phone numbers have at most a couple of one-digit groups ("+33 6 12 34 56 78");
    # this keeps "steps 1 2 3 4 5 6 7 8 9 10" from reading as a phone number.
    if sum(1 for group in groups if len(group) == 1) > MAX_SINGLE_DIGIT_GROUPS:
        return None
    if PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
        return f"phone-like number ({len(digits)} digits) ending {digits[-2:]}"
    return None


def leaks(text: str, *, allowed_email_domains: Sequence[str] = ()) -> list[str]:
    """What in ``text`` looks like personal data, each described with its sensitive part masked."""
    allowed = {domain.lower().lstrip("@") for domain in allowed_email_domains}
    found: list[str] = []
    for match in EMAIL.finditer(text):
        address = match.group()
        if address.partition("@")[2].lower() not in allowed:
            found.append(f"email address {mask_email(address)}")
    rest = EMAIL.sub(" ", text)
    rest = DATE_OR_TIME.sub(" ", rest)
    for match in NUMBER.finditer(rest):
        described = _classify_number(match.group().strip())
        if described:
            found.append(described)
    return list(dict.fromkeys(found))
