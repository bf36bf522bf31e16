"""Gigdesk settings: one module, configured from the environment.

Nothing set gives the embedded default: SQLite in ``data/``, the in-memory
channel layer, Huey on SQLite, console email, DEBUG on. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. With ``DEBUG=false`` the
settings refuse to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS``; see
``docs/deployment.md`` for the production values that keep
``manage.py check --deploy`` clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """Read a string, or the contents of the file named by ``NAME_FILE``."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY") or "insecure-local-development-key-do-not-use-in-production"
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
else:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to 50 or more random characters.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS (comma-separated host names).")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

DATA_DIR = Path(env_str("GIGDESK_DATA_DIR") or BASE_DIR / "data")
DATA_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    "django_countries",
    "django_htmx",
    "huey.contrib.djhuey",
    "marketplace",
    "brands",
    "gigs",
    "payouts",
    "assessments",
    "qa",
    "analytics",
    "stripe_sandbox",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "marketplace.middleware.StaffTwoFactorMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=False)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every sync view runs in a worker thread and Django's
        # persistent connections are per thread, so they pile up until
        # PostgreSQL refuses clients. The psycopg pool bounds them instead;
        # it requires CONN_MAX_AGE = 0.
        _db.setdefault("OPTIONS", {})
        if env_bool("DATABASE_POOL", True):
            _db["OPTIONS"]["pool"] = {
                "min_size": env_int("DATABASE_POOL_MIN", 2),
                "max_size": env_int("DATABASE_POOL_MAX", 10),
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
            }
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "gigdesk.sqlite3",
            # Web, WebSocket and job worker processes share the file: WAL and
            # IMMEDIATE transactions avoid most "database is locked" errors.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            "TEST": {"NAME": DATA_DIR / "test-gigdesk.sqlite3"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, job queue, cache --------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels ignore the Redis database number: the prefix
            # keeps two deployments (or test runs) on one server apart.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "gigdesk")},
        }
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": env_str("HUEY_NAME", "gigdesk"),
        "url": REDIS_URL,
        "immediate": env_bool("HUEY_IMMEDIATE", False),
        "consumer": {"workers": env_int("HUEY_WORKERS", 4), "worker_type": "thread"},
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gigdesk",
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # The default of 100 waiting messages per channel would drop a
            # burst of live events before the hub drains its channel.
            "CONFIG": {"capacity": 10000},
        }
    }
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "gigdesk",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": env_bool("HUEY_IMMEDIATE", False),
        # SQLite has no blocking pop: the consumer polls, backing off while idle.
        # Cap the back-off at one second so a CSV import starts promptly.
        "consumer": {
            "workers": env_int("HUEY_WORKERS", 2),
            "worker_type": "thread",
            "max_delay": 1.0,
        },
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth and accounts ----------------------------------------------------
AUTH_USER_MODEL = "marketplace.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "frontend:home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "marketplace.forms.SignupForm"
ACCOUNT_ADAPTER = "marketplace.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Gigdesk] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Gigdesk"

# --- Email ----------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Gigdesk <no-reply@gigdesk.localhost>")

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["brands.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["brands.authentication.HasBrandApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.exception_handler",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gigdesk brand API",
    "DESCRIPTION": (
        "Send tasks into Gigdesk and follow them. Authenticate with "
        "`Authorization: Bearer <api key>`; keys are created in the brand console."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Gigs and tasks both have a "status" (and messages two sets of "kind"):
    # name each choice set after what it belongs to.
    "ENUM_NAME_OVERRIDES": {
        "GigStatusEnum": "gigs.models.GigStatus",
        "TaskStatusEnum": "gigs.models.TaskStatus",
        "MessageKindEnum": "gigs.models.MessageKind",
        "BrandMessageKindEnum": "gigs.serializers.BRAND_MESSAGE_KIND_CHOICES",
        "TaskPriorityEnum": "gigs.serializers.PRIORITY_NAME_CHOICES",
    },
}

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
NODE_MODULES = BASE_DIR / "frontend" / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "frontend" / "static",
    # Third-party assets come from npm (frontend/package.json); only their
    # distribution folders are published.
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/pico", NODE_MODULES / "@picocss" / "pico" / "css"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# --- Security (production) --------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Gigdesk ----------------------------------------------------------------
GIGDESK_API_KEY_TOUCH_SECONDS = 60  # how stale "last used" may be before we write it again
GIGDESK_INVITATION_DAYS = 14
GIGDESK_CSV_MAX_BYTES = env_int("GIGDESK_CSV_MAX_BYTES", 5 * 1024 * 1024)
GIGDESK_CSV_MAX_ROWS = env_int("GIGDESK_CSV_MAX_ROWS", 20000)

# --- Stripe -----------------------------------------------------------------
# No secret key: the stripe SDK talks to the local sandbox
# (python manage.py stripe_sandbox) instead of Stripe; see payouts/stripe_api.py.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")  # empty: the sandbox's dev secret
STRIPE_SANDBOX_URL = env_str("STRIPE_SANDBOX_URL", "http://127.0.0.1:12111").rstrip("/")
STRIPE_SANDBOX_WEBHOOK_URL = env_str("STRIPE_SANDBOX_WEBHOOK_URL", SITE_URL + "/stripe/webhooks/")
# Pay runs pay an agent at least this much, in minor units: one figure for every
# currency, or (set here) a dict per currency such as {"EUR": 1000, "JPY": 1000}.
PAYOUT_MINIMUM_MINOR: int | dict[str, int] = env_int("PAYOUT_MINIMUM_MINOR", 1000)
# Pay runs pace their Stripe requests to this (Stripe allows 25 a second in
# test mode, 100 in live mode) and back off on a 429.
STRIPE_MAX_REQUESTS_PER_SECOND = env_int("STRIPE_MAX_REQUESTS_PER_SECOND", 25)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
