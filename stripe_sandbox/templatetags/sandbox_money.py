"""``{{ amount|money:currency }}``: minor units shown as the currency's major units."""

from decimal import Decimal

from django import template

register = template.Library()

# Stripe's zero-decimal currencies: their amounts are already whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip


@register.filter
def money(amount: int, currency: str) -> str:
    """1234, "eur" -> "12.34 EUR" (exact: Decimal, never float)."""
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return f"{amount} {currency.upper()}"
    return f"{Decimal(amount) / 100:.2f} {currency.upper()}"
