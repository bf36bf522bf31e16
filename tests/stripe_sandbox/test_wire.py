"""Bracket-notation parameters, parsed as Stripe reads them."""

import pytest

from stripe_sandbox.wire import StripeError, parse_params


def test_nested_hashes_and_indexed_lists():
    params = parse_params(
        [
            ("line_items[0][price_data][currency]", "eur"),
            ("line_items[0][price_data][product_data][name]", "Minutes"),
            ("line_items[0][quantity]", "3"),
            ("line_items[1][quantity]", "1"),
            ("capabilities[transfers][requested]", "true"),
        ]
    )

    assert params == {
        "line_items": [
            {
                "price_data": {"currency": "eur", "product_data": {"name": "Minutes"}},
                "quantity": "3",
            },
            {"quantity": "1"},
        ],
        "capabilities": {"transfers": {"requested": "true"}},
    }


def test_empty_brackets_append():
    assert parse_params([("expand[]", "a"), ("expand[]", "b")]) == {"expand": ["a", "b"]}


def test_metadata_keys_stay_keys_even_when_numeric():
    assert parse_params([("metadata[0]", "x"), ("metadata[order]", "42")]) == {
        "metadata": {"0": "x", "order": "42"}
    }


def test_list_indexes_order_numerically():
    pairs = [(f"items[{index}]", str(index)) for index in (10, 2, 0, 1)]

    assert parse_params(pairs) == {"items": ["0", "1", "2", "10"]}


def test_a_key_used_as_both_value_and_hash_is_refused():
    with pytest.raises(StripeError) as refused:
        parse_params([("metadata", "x"), ("metadata[a]", "y")])

    assert refused.value.status == 400
    assert not refused.value.saved


def test_a_malformed_key_is_refused():
    with pytest.raises(StripeError):
        parse_params([("metadata[a", "x")])
