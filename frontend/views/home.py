from django.shortcuts import redirect, render

from brands.selectors import memberships_for_user


def home(request):
    """Send a signed-in user to their console; show everyone else what Gigdesk is."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "frontend/landing.html")
    if user.is_staff:
        return redirect("frontend:staff_home")
    if user.is_agent:
        return redirect("frontend:agent_home")
    membership = memberships_for_user(user).first()
    if membership is None:
        return redirect("frontend:brand_create")
    return redirect("frontend:brand_home", slug=membership.brand.slug)
