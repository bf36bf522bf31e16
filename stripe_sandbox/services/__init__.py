"""What each Stripe resource does in the sandbox: one module per topic.

Every service takes an ``Operation`` (the open store transaction, the
sandbox's configuration and the API request that caused it, if any) and
keyword-only, already-validated arguments; it returns the Stripe object as
stored, or raises ``wire.StripeError``.
"""
