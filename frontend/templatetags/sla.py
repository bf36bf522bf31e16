"""Filters for SLA targets: ``{% load sla %}``."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def sla_target(seconds: int | None) -> str:
    """``28800`` → ``"8 hours"``, ``5400`` → ``"90 minutes"``: the largest whole unit."""
    if seconds is None:
        return ""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
