"""Settings for the servers the benchmarks start: the project's, plus the floor view.

Everything comes from ``marketplace.settings`` (so the database, pool and
middleware are the production ones); the harness sets ``DEBUG=false`` and the
other production variables in the environment before this module loads.
"""

from marketplace.settings import *  # noqa: F403
from marketplace.settings import DATA_DIR, DATABASE_URL, DATABASES, STORAGES

ROOT_URLCONF = "bench.urls"

if not DATABASE_URL:
    # Embedded runs get their own file: seeding a million tasks into the
    # development database would bury the demo world.
    DATABASES = {
        "default": {**DATABASES["default"], "NAME": DATA_DIR / "bench.sqlite3"},
    }

# The manifest storage that DEBUG=false selects needs a prior collectstatic;
# the benchmarks render pages but never serve their assets, and both storages
# cost the same per {% static %} tag once loaded.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
