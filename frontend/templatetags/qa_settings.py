"""The "QA" section of the gig page: ``{% gig_qa_settings_section %}`` reads
``brand``, ``gig`` and ``is_admin`` from the page's context, so the gig view
need not know about QA."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.urls import reverse

from frontend.forms.qa_scorecards import GigQASettingsForm
from marketplace.money import money_format
from qa.selectors import gig_qa_settings, gig_scorecard, gig_scorecard_version
from qa.standing import kept_off_gig

register = template.Library()


def _plain(value: Decimal) -> str:
    """``Decimal("12.50")`` → ``"12.5"``, ``Decimal("10.00")`` → ``"10"``."""
    return f"{value.normalize():f}"


@register.inclusion_tag("qa/scorecards/gig_qa_section.html", takes_context=True)
def gig_qa_settings_section(context) -> dict:
    brand, gig = context["brand"], context["gig"]
    is_admin = bool(context.get("is_admin"))
    settings = gig_qa_settings(gig)
    return {
        "settings": settings,
        "scorecard": gig_scorecard(gig),
        "version": gig_scorecard_version(gig),
        "bonus_fixed": money_format(settings.bonus_fixed_minor, gig.currency),
        "random_pct": _plain(Decimal(settings.random_pct)),
        "bonus_multiplier_pct": _plain(Decimal(settings.bonus_multiplier_bps).scaleb(-2)),
        "kept_off": list(kept_off_gig(gig)) if settings.min_qa_score is not None else [],
        "is_admin": is_admin,
        "form": GigQASettingsForm(gig=gig, initial=GigQASettingsForm.initial_for(settings))
        if is_admin
        else None,
        "action": reverse("frontend:gig_qa_settings", args=[brand.slug, gig.pk]),
        "csrf_token": context.get("csrf_token"),
    }
