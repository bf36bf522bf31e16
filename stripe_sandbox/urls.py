"""The sandbox process's own URLconf (``server`` makes it the process's ROOT_URLCONF).

Stripe's paths have no trailing slash, and neither do these.
"""

from django.urls import include, path, re_path

from stripe_sandbox import api_views as api
from stripe_sandbox import control_views as control
from stripe_sandbox import hosted_views as hosted
from stripe_sandbox.endpoint import endpoint, unrecognized

v1 = [
    path("accounts", endpoint(post=api.account_create)),
    path("accounts/<str:account_id>", endpoint(get=api.account_retrieve, post=api.account_update)),
    path("accounts/<str:account_id>/login_links", endpoint(post=api.login_link_create)),
    path("account_links", endpoint(post=api.account_link_create)),
    path("checkout/sessions", endpoint(post=api.checkout_session_create)),
    path("checkout/sessions/<str:session_id>", endpoint(get=api.checkout_session_retrieve)),
    path("payment_intents/<str:intent_id>", endpoint(get=api.payment_intent_retrieve)),
    path("charges/<str:charge_id>", endpoint(get=api.charge_retrieve)),
    path("transfers", endpoint(get=api.transfer_list, post=api.transfer_create)),
    path("transfers/<str:transfer_id>", endpoint(get=api.transfer_retrieve)),
    path(
        "transfers/<str:transfer_id>/reversals",
        endpoint(get=api.transfer_reversal_list, post=api.transfer_reversal_create),
    ),
    path("balance", endpoint(get=api.balance_retrieve)),
    path("payouts", endpoint(get=api.payout_list, post=api.payout_create)),
    path("payouts/<str:payout_id>", endpoint(get=api.payout_retrieve)),
    path("events", endpoint(get=api.event_list)),
    path("events/<str:event_id>", endpoint(get=api.event_retrieve)),
    re_path(r"^.*$", unrecognized),
]

sandbox_control = [
    path("health", control.health),
    path("reset", control.reset),
    path("faults", control.faults),
    path("rate_limit", control.rate_limit),
    path("webhooks", control.webhooks),
    path("switches", control.switches),
    path("seed", control.seed),
    path("webhook_deliveries", control.webhook_deliveries),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("_sandbox/", include(sandbox_control)),
    path("connect/onboarding/<str:token>", hosted.onboarding, name="onboarding"),
    path("c/pay/<str:session_id>", hosted.checkout_page, name="checkout"),
    path("express/<str:token>", hosted.express_dashboard, name="express_dashboard"),
]
