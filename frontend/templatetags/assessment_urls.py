"""``{% owner_url "assessment_detail" assessment.slug %}``: the staff or the brand
address of an authoring page, whichever ``owner`` (in the context) the page serves."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def owner_url(context, name: str, *args) -> str:
    return context["owner"].url(name, *args)
