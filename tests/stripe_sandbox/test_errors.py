"""Stripe's error shapes and statuses, for the SDK and for raw HTTP clients."""

import pytest
import requests
import stripe

from payouts.stripe_api import SANDBOX_API_KEY

AUTH = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}


def test_a_request_without_a_key_is_401_in_stripes_shape(sandbox):
    response = requests.get(f"{sandbox.url}/v1/balance", timeout=5)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "You did not provide an API key" in error["message"]
    assert response.headers["Request-Id"].startswith("req_")


def test_a_live_key_is_refused(sandbox):
    live = stripe.StripeClient("sk_live_notallowed", base_addresses={"api": sandbox.url})

    with pytest.raises(stripe.AuthenticationError):
        live.v1.balance.retrieve()


def test_basic_auth_works_like_curl_u(sandbox):
    response = requests.get(f"{sandbox.url}/v1/balance", auth=(SANDBOX_API_KEY, ""), timeout=5)

    assert response.status_code == 200


def test_an_unknown_object_is_404_resource_missing(sandbox):
    response = requests.get(f"{sandbox.url}/v1/transfers/tr_missing", headers=AUTH, timeout=5)

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such transfer: 'tr_missing'",
            "param": "id",
        }
    }


def test_an_unknown_url_is_404_json(sandbox):
    response = requests.delete(f"{sandbox.url}/v1/transfers", headers=AUTH, timeout=5)

    assert response.status_code == 404
    assert "Unrecognized request URL (DELETE: /v1/transfers)" in response.json()["error"]["message"]


def test_an_unknown_parameter_is_refused_by_name(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.accounts.create(params={"type": "express", "emial": "typo@gigdesk.test"})

    assert (refused.value.code, refused.value.param) == ("parameter_unknown", "emial")


def test_a_nested_parameter_error_names_its_full_path(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {"price_data": {"currency": "eur", "unit_amount": 100}, "quantity": 1}
                ],
                "success_url": "https://gigdesk.test/ok",
            }
        )

    assert refused.value.param == "line_items[0][price_data][product_data]"


@pytest.mark.parametrize("amount", ["10.50", "1e3", "ten"])
def test_amounts_must_be_integer_minor_units(sandbox, amount):
    response = requests.post(
        f"{sandbox.url}/v1/transfers",
        data={"amount": amount, "currency": "eur", "destination": "acct_x"},
        headers=AUTH,
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_invalid_integer"


def test_json_bodies_are_refused(sandbox):
    response = requests.post(
        f"{sandbox.url}/v1/accounts", json={"type": "express"}, headers=AUTH, timeout=5
    )

    assert response.status_code == 400
    assert "form-encoded" in response.json()["error"]["message"]


def test_an_unknown_stripe_account_header_is_refused(client):
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.balance.retrieve(options={"stripe_account": "acct_missing"})

    assert refused.value.json_body["error"]["code"] == "account_invalid"


def test_stripe_version_is_accepted_and_echoed(sandbox):
    response = requests.get(
        f"{sandbox.url}/v1/balance",
        headers={**AUTH, "Stripe-Version": "2025-06-30.basil"},
        timeout=5,
    )

    assert response.status_code == 200
    assert response.headers["Stripe-Version"] == "2025-06-30.basil"
