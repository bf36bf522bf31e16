"""Money as people read it: minor units in a currency, shown in major units.

Amounts are integers in the currency's minor unit everywhere (see
``payouts.models``); these helpers turn them into text for pages, CSV files
and the messages services raise.
"""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 currencies without a minor unit (Stripe's list): an amount in them
# is stored as is, and "2.50" is refused instead of silently rounded.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}


def currency_decimals(currency: str) -> int:
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def major_units(amount_minor: int | None, currency: str) -> str:
    """``250`` EUR → ``"2.50"``, the form's own notation (no symbol, no grouping)."""
    if amount_minor is None:
        return ""
    places = currency_decimals(currency)
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"


def money_format(amount_minor: int | None, currency: str) -> str:
    """``250`` EUR → ``"€2.50"``; currencies without a symbol here get the code after."""
    if amount_minor is None:
        return ""
    currency = currency.upper()
    places = currency_decimals(currency)
    amount = f"{Decimal(amount_minor).scaleb(-places):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"
