"""Scenario steps the sandbox tests share, each through the real SDK and the hosted pages."""

from __future__ import annotations

import stripe

from stripe_sandbox.testing import complete_onboarding, pay_checkout

RETURN_URL = "https://gigdesk.test/agent/payouts/return"
REFRESH_URL = "https://gigdesk.test/agent/payouts/refresh"
SUCCESS_URL = "https://gigdesk.test/brand/billing/success?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://gigdesk.test/brand/billing"


def express_account(client: stripe.StripeClient, **params) -> stripe.Account:
    return client.v1.accounts.create(
        params={
            "type": "express",
            "country": "DE",
            "email": "agent@gigdesk.test",
            "capabilities": {"transfers": {"requested": True}},
            **params,
        }
    )


def onboarding_link(client: stripe.StripeClient, account_id: str) -> stripe.AccountLink:
    return client.v1.account_links.create(
        params={
            "account": account_id,
            "refresh_url": REFRESH_URL,
            "return_url": RETURN_URL,
            "type": "account_onboarding",
        }
    )


def onboarded_account(client: stripe.StripeClient) -> stripe.Account:
    account = express_account(client)
    response = complete_onboarding(onboarding_link(client, account.id).url)
    assert response.status_code == 302, response.text
    return client.v1.accounts.retrieve(account.id)


def top_up_session(
    client: stripe.StripeClient, *, amount: int, currency: str = "eur", **params
) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "product_data": {"name": "Gigdesk balance top-up"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": SUCCESS_URL,
            "cancel_url": CANCEL_URL,
            **params,
        }
    )


def fund_platform(client: stripe.StripeClient, *, amount: int, currency: str = "eur") -> None:
    """Pay a top-up on the hosted checkout page: the platform's balance grows by ``amount``."""
    response = pay_checkout(top_up_session(client, amount=amount, currency=currency).url)
    assert response.status_code == 302, response.text


def available(client: stripe.StripeClient, currency: str = "eur", **options) -> int:
    balance = client.v1.balance.retrieve(options=options)
    return sum(entry.amount for entry in balance.available if entry.currency == currency)
