"""What every page's navigation needs: the user's brands and which consoles they may open."""

from brands.selectors import memberships_for_user


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = list(memberships_for_user(user))
    current_slug = getattr(getattr(request, "resolver_match", None), "kwargs", {}).get("slug")
    current = next((m for m in memberships if m.brand.slug == current_slug), None)
    return {
        "nav_memberships": memberships,
        "nav_current_membership": current,
        "nav_is_agent": user.is_agent,
        "nav_is_staff": user.is_staff,
    }
