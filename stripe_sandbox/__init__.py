"""A local, stateful Stripe Connect sandbox that speaks Stripe's wire format.

With no ``STRIPE_SECRET_KEY`` the platform's ``stripe`` SDK talks to this
server instead of Stripe (``payouts.stripe_api.stripe_client``). It runs as
its own process, ``python manage.py stripe_sandbox``, and keeps its state in
its own SQLite file, apart from the platform's database.

Layout:

- ``wire``: bracket-notation parameters, ids and Stripe's error shape;
- ``params``: typed access to a request's parameters;
- ``store``: the SQLite state file;
- ``services``: what each Stripe resource does (accounts, checkout,
  transfers, balances and payouts, events);
- ``endpoint`` and ``api_views``: the ``/v1/`` API; ``hosted_views``: the
  onboarding, checkout and Express dashboard pages; ``control_views``: the
  ``/_sandbox/`` test switches;
- ``webhooks``: signed delivery of events in a background thread;
- ``switches``: the fault, rate-limit and webhook-order switches;
- ``sandbox`` and ``server``: the process (threaded WSGI server);
- ``testing``: start a sandbox subprocess and receive its webhooks in tests.
"""
