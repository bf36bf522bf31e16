"""Typed reads of a request's parameters, refusing bad input the way Stripe does.

Every value on the wire is a string; ``Params`` turns them into integers,
booleans, currencies and metadata, and names the offending parameter in
Stripe's own notation (``line_items[0][quantity]``) when one is missing,
malformed or unknown. None of these errors is saved for idempotency: they
happen before an endpoint starts executing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stripe_sandbox.wire import invalid_parameter, parameter_missing, parameter_unknown

_CURRENCY = re.compile(r"^[a-z]{3}$")
_TRUE = "true"
_FALSE = "false"
# Stripe's documented metadata limits.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
# Accepted on every endpoint; only a few expansions change an answer.
_ALWAYS_ALLOWED = frozenset({"expand"})


class Params:
    """The parameters of a request, or of one hash nested inside it."""

    def __init__(self, values: Mapping[str, Any], *, prefix: str = "") -> None:
        self._values = values
        self._prefix = prefix

    def name(self, key: str) -> str:
        """``key`` as the client wrote it, e.g. ``line_items[0][price_data][currency]``."""
        return f"{self._prefix}[{key}]" if self._prefix else key

    def only(self, *allowed: str) -> Params:
        """Refuse any parameter this endpoint does not take (a typo must not pass silently)."""
        for key in self._values:
            if key not in allowed and key not in _ALWAYS_ALLOWED:
                raise parameter_unknown(self.name(key))
        return self

    def required_text(self, key: str, *, choices: tuple[str, ...] = ()) -> str:
        value = self.optional_text(key, choices=choices)
        if value is None or value == "":
            raise parameter_missing(self.name(key))
        return value

    def optional_text(self, key: str, *, choices: tuple[str, ...] = ()) -> str | None:
        value = self._values.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid_parameter(f"Invalid string: {self.name(key)}", param=self.name(key))
        if choices and value not in choices:
            raise invalid_parameter(
                f"Invalid {self.name(key)}: must be one of {', '.join(choices)}",
                param=self.name(key),
            )
        return value

    def required_int(self, key: str, *, minimum: int | None = None) -> int:
        value = self.optional_int(key, minimum=minimum)
        if value is None:
            raise parameter_missing(self.name(key))
        return value

    def optional_int(self, key: str, *, minimum: int | None = None) -> int | None:
        raw = self.optional_text(key)
        if raw is None:
            return None
        # Stripe takes amounts in integer minor units: "10.50" or "1e3" is an error, not a round.
        if not re.fullmatch(r"-?\d+", raw):
            raise invalid_parameter(
                f"Invalid integer: {raw}", param=self.name(key), code="parameter_invalid_integer"
            )
        value = int(raw)
        if minimum is not None and value < minimum:
            raise invalid_parameter(
                f"This value must be greater than or equal to {minimum}.", param=self.name(key)
            )
        return value

    def flag(self, key: str, *, default: bool = False) -> bool:
        raw = self.optional_text(key)
        if raw is None:
            return default
        if raw not in (_TRUE, _FALSE):
            raise invalid_parameter(
                f"Invalid boolean: {raw}", param=self.name(key), code="parameter_invalid_boolean"
            )
        return raw == _TRUE

    def currency(self, key: str = "currency") -> str:
        value = self.required_text(key).lower()
        if not _CURRENCY.match(value):
            raise invalid_parameter(
                f"Invalid currency: {value}. Use a three-letter ISO code, like eur.",
                param=self.name(key),
            )
        return value

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """Metadata as sent; an empty string (``metadata=``) means "clear all"."""
        value = self._values.get(key)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise invalid_parameter(
                "Invalid metadata: use metadata[key]=value", param=self.name(key)
            )
        _check_metadata_limits(value, param=self.name(key))
        return dict(value)

    def optional_child(self, key: str) -> Params | None:
        value = self._values.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid_parameter(f"Invalid hash: {self.name(key)}", param=self.name(key))
        return Params(value, prefix=self.name(key))

    def required_child(self, key: str) -> Params:
        child = self.optional_child(key)
        if child is None:
            raise parameter_missing(self.name(key))
        return child

    def required_children(self, key: str) -> list[Params]:
        """A list of hashes, like ``line_items[0][...]``, ``line_items[1][...]``."""
        value = self._values.get(key)
        if not value:
            raise parameter_missing(self.name(key))
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise invalid_parameter(f"Invalid array: {self.name(key)}", param=self.name(key))
        return [
            Params(item, prefix=f"{self.name(key)}[{index}]") for index, item in enumerate(value)
        ]

    def expansions(self) -> frozenset[str]:
        value = self._values.get("expand") or []
        return frozenset(value if isinstance(value, list) else [value])

    def child_keys(self) -> list[str]:
        return list(self._values)


def _check_metadata_limits(metadata: Mapping[str, str], *, param: str) -> None:
    if len(metadata) > METADATA_MAX_KEYS:
        raise invalid_parameter(f"Invalid metadata: at most {METADATA_MAX_KEYS} keys", param=param)
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY_LENGTH or len(value) > METADATA_MAX_VALUE_LENGTH:
            raise invalid_parameter(
                f"Invalid metadata[{key}]: keys may have {METADATA_MAX_KEY_LENGTH} characters "
                f"and values {METADATA_MAX_VALUE_LENGTH}",
                param=f"{param}[{key}]",
            )
