"""AutoQA's rule-based checks: each kind of finding, its masking, and what must not trigger it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qa.autoqa import (
    Finding,
    MessageFacts,
    contains_phrase,
    duration,
    findings,
    leaks,
    luhn_valid,
    turn_switches,
)

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
GREETINGS = ["Hello", "Bonjour", "Merci d'avoir contacté"]
CLOSINGS = ["Have a nice day", "Bonne journée"]


def msg(author: str, body: str, minutes: float = 0) -> MessageFacts:
    return MessageFacts(author=author, body=body, at=START + timedelta(minutes=minutes))


def check(messages, *, sla_seconds=None, limit=None, greetings=(), closings=(), **extra):
    return findings(
        messages,
        sla_seconds=sla_seconds,
        back_and_forth_limit=limit,
        greetings=greetings,
        closings=closings,
        **extra,
    )


def kinds(result: list[Finding]) -> list[str]:
    return [finding.kind for finding in result]


GOOD_CONVERSATION = [
    msg("customer", "My parcel never arrived.", 0),
    msg("agent", "Hello Sam, sorry to hear that. Let me check.", 2),
    msg("system", "Task assigned to tier 2.", 3),
    msg("agent", "It is on its way; order 48213377 ships today. Have a nice day!", 6),
]


def test_a_good_conversation_has_no_findings():
    result = check(
        GOOD_CONVERSATION, sla_seconds=300, limit=4, greetings=GREETINGS, closings=CLOSINGS
    )
    assert result == []


def test_no_messages_no_findings():
    assert check([], sla_seconds=60, limit=1, greetings=GREETINGS, closings=CLOSINGS) == []


# --- First response ----------------------------------------------------------------------


def test_slow_first_reply_is_found():
    messages = [msg("customer", "Hi?", 0), msg("agent", "Hello!", 72)]
    assert check(messages, sla_seconds=1800) == [
        Finding(
            kind="first_response_slow",
            category_hint="responsiveness",
            detail="First reply after 1 h 12 min; the SLA is 30 min.",
        )
    ]


def test_reply_exactly_at_the_sla_is_in_time():
    messages = [msg("customer", "Hi?", 0), msg("agent", "Hello!", 5)]
    assert check(messages, sla_seconds=300) == []


def test_an_agent_message_before_the_customer_wrote_is_not_the_reply():
    messages = [
        msg("agent", "Hello, we noticed a failed payment.", 0),
        msg("customer", "What happened?", 1),
        msg("agent", "Your card expired.", 20),
    ]
    result = check(messages, sla_seconds=600)
    assert kinds(result) == ["first_response_slow"]
    assert result[0].detail == "First reply after 19 min; the SLA is 10 min."


def test_no_reply_at_all_is_found():
    messages = [msg("customer", "Anyone there?", 0), msg("system", "Task closed.", 90)]
    result = check(messages, sla_seconds=3600)
    assert result[0].detail == "No agent reply to the customer's first message (SLA 1 h)."


def test_messages_are_taken_in_time_order():
    messages = [msg("agent", "Hello!", 3), msg("customer", "Hi?", 0)]
    assert check(messages, sla_seconds=120) and not check(messages, sla_seconds=180)


def test_no_sla_skips_the_check():
    messages = [msg("customer", "Hi?", 0), msg("agent", "Hello!", 600)]
    assert check(messages, sla_seconds=None) == []


# --- Back and forth ----------------------------------------------------------------------

PING_PONG = [
    msg("customer", "a", 0),
    msg("agent", "b", 1),
    msg("system", "note", 2),
    msg("agent", "c", 3),
    msg("customer", "d", 4),
    msg("agent", "e", 5),
    msg("customer", "f", 6),
]


def test_turn_switches_ignore_system_notes_and_consecutive_messages():
    assert turn_switches(PING_PONG) == 4


def test_back_and_forth_over_the_limit_is_found():
    assert check(PING_PONG, limit=3) == [
        Finding(
            kind="too_many_back_and_forth",
            category_hint="resolution",
            detail="4 turns between agent and customer; the limit is 3.",
        )
    ]


def test_back_and_forth_at_the_limit_is_fine():
    assert check(PING_PONG, limit=4) == []


# --- Greeting and closing ----------------------------------------------------------------


def test_missing_greeting_is_found_in_the_first_agent_message():
    messages = [
        msg("customer", "Hello", 0),
        msg("agent", "Checking now.", 1),
        msg("agent", "Hello again, all sorted.", 2),
    ]
    result = check(messages, greetings=GREETINGS)
    assert result == [
        Finding(
            kind="greeting_missing",
            category_hint="greeting",
            detail="The first agent message has none of: “Hello”, “Bonjour”, "
            "“Merci d'avoir contacté”.",
        )
    ]


def test_greeting_match_ignores_case_and_accents():
    messages = [msg("customer", "?", 0), msg("agent", "MERCI D'AVOIR  CONTACTE le support", 1)]
    assert check(messages, greetings=GREETINGS) == []


def test_greeting_must_be_whole_words():
    assert contains_phrase("Hi there", "hi")
    assert not contains_phrase("This is it", "hi")


def test_missing_closing_is_found_in_the_last_agent_message():
    messages = [
        msg("customer", "?", 0),
        msg("agent", "Bonne journée !", 1),
        msg("agent", "Oh, one more thing.", 2),
    ]
    result = check(messages, closings=CLOSINGS)
    assert kinds(result) == ["closing_missing"]
    assert result[0].category_hint == "closing"
    assert result[0].detail.startswith("The last agent message has none of")


def test_closing_match_ignores_accents():
    messages = [msg("customer", "?", 0), msg("agent", "Merci, bonne journee", 1)]
    assert check(messages, closings=CLOSINGS) == []


def test_no_configured_phrases_skips_greeting_and_closing():
    messages = [msg("customer", "?", 0), msg("agent", "ok", 1)]
    assert check(messages, greetings=[], closings=["  "]) == []


def test_no_agent_message_means_nothing_to_check_for_phrases():
    messages = [msg("customer", "Hello?", 0)]
    assert check(messages, greetings=GREETINGS, closings=CLOSINGS) == []


# --- Possible leaks ----------------------------------------------------------------------


def leak_details(body: str, author: str = "agent") -> list[str]:
    result = check([msg("customer", "?", 0), msg(author, body, 1)])
    assert all(f.kind == "possible_leak" and f.leak for f in result)
    assert all(f.category_hint == "data_protection" for f in result)
    return [f.detail for f in result]


def test_card_number_passing_luhn_is_a_leak_masked_to_its_last_4():
    details = leak_details("Your card 4242 4242 4282 9010 was charged.")
    assert details == ["card-like number ending 9010 in agent reply 1"]


def test_card_number_with_dashes_is_a_leak():
    assert leak_details("Card 4111-1111-1111-1111.") == [
        "card-like number ending 1111 in agent reply 1"
    ]


def test_card_shaped_number_failing_luhn_is_not_a_card():
    assert leak_details("Reference 4242 4242 4282 9011 noted.") == []


def test_email_address_is_a_leak_masked():
    details = leak_details("I wrote to jane.doe@example.com about it.")
    assert details == ["email address j***@example.com in agent reply 1"]
    assert "jane.doe" not in details[0]


def test_allowed_email_domain_is_not_a_leak():
    messages = [msg("agent", "Write to help@brand.example or sam@gmail.com", 1)]
    result = check(messages, allowed_email_domains=["brand.example"])
    assert [f.detail for f in result] == ["email address s***@gmail.com in agent reply 1"]


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("Call 555 123 456.", []),  # 9 digits
        ("Call 555 123 4567.", ["phone-like number (10 digits) ending 67 in agent reply 1"]),
        (
            "Call +44 20 7946 0958 12.",  # 14 digits
            ["phone-like number (14 digits) ending 12 in agent reply 1"],
        ),
        (
            "Call 123456789012345.",  # 15 digits, not a Luhn number
            ["phone-like number (15 digits) ending 45 in agent reply 1"],
        ),
        ("Call 1234567890123456.", []),  # 16 digits, not a Luhn number
        ("Call +1 (555) 123-4567.", ["phone-like number (11 digits) ending 67 in agent reply 1"]),
        ("Call 06.12.34.56.78.", ["phone-like number (10 digits) ending 78 in agent reply 1"]),
        ("Call +33 6 12 34 56 78.", ["phone-like number (11 digits) ending 78 in agent reply 1"]),
    ],
)
def test_phone_numbers_of_10_to_15_digits_are_leaks(body, found):
    assert leak_details(body) == found


@pytest.mark.parametrize(
    "body",
    [
        "Your order 48213377 has shipped.",
        "Order #48213377 ships on 2026-12-03 14:05.",
        "We spoke on 03/12/2026 at 14:05.",
        "Follow steps 1 2 3 4 5 6 7 8 9 10 in the guide.",
        "Reference ORD1234567890123 is on file.",
        "It costs 1,234.56 EUR.",
    ],
)
def test_ordinary_numbers_are_not_leaks(body):
    assert leak_details(body) == []


def test_customer_messages_are_not_checked_for_leaks():
    assert leak_details("my card is 4111 1111 1111 1111", author="customer") == []


def test_each_leak_is_reported_once_per_reply_and_numbered():
    messages = [
        msg("customer", "?", 0),
        msg("agent", "Hello", 1),
        msg("agent", "sam@x.io and sam@x.io, or 555-123-4567", 2),
    ]
    assert [f.detail for f in check(messages)] == [
        "email address s***@x.io in agent reply 2",
        "phone-like number (10 digits) ending 67 in agent reply 2",
    ]


def test_leaks_lists_what_it_found_masked():
    text = "mail a.b@c.org, card 4111 1111 1111 1111, phone +1 555 123 4567"
    assert leaks(text) == [
        "email address a***@c.org",
        "card-like number ending 1111",
        "phone-like number (11 digits) ending 67",
    ]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("4242-4242-4282-9010", True),
        ("378282246310005", True),
        ("5555555555554444", True),  # doubled 5s give 10, which counts as 1
        ("5555555555554440", False),
        ("4111111111111112", False),
        ("79927398713", True),
        ("79927398710", False),
        ("", False),
        ("0", False),
        ("4111x111", False),
    ],
)
def test_luhn_valid(digits, valid):
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45 s"), (200, "3 min 20 s"), (300, "5 min"), (4320, "1 h 12 min"), (183600, "2 d 3 h")],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_findings_keep_a_stable_order():
    messages = [
        msg("customer", "?", 0),
        msg("agent", "ok, card 4111 1111 1111 1111", 90),
        msg("customer", "?", 91),
        msg("agent", "done", 92),
    ]
    result = check(messages, sla_seconds=60, limit=2, greetings=GREETINGS, closings=CLOSINGS)
    assert kinds(result) == [
        "first_response_slow",
        "too_many_back_and_forth",
        "greeting_missing",
        "closing_missing",
        "possible_leak",
    ]
