"""Settings read from the environment, with embedded defaults for one machine.

Embedded default: SQLite (WAL), in-memory channel layer, django-tasks-db worker.
Scale-out: DATABASE_URL (PostgreSQL) and REDIS_URL (channels-redis + Celery).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.drivers import skip_postgres_driver
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("PRODUCTION", False)



def _installation_secret_key(path: Path) -> str:
    """This installation's own key, made on first start and reused afterwards. A constant in the
    source would let anyone forge sessions and invitation links of every installation that
    forgot to set SECRET_KEY. Written to a private temporary file and linked into place, so that
    processes starting together never read a half-written key and all end up with the same one."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(64) + "\n")
    try:
        os.link(temporary, path)  # fails if another process linked its key first: use that one
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION=true")
    SECRET_KEY = _installation_secret_key(DATA_DIR / "secret_key")

# Encryption key(s) for stored Qualtrics tokens: the first one encrypts; the others are
# still accepted for reading while `rotate_encryption_key` re-encrypts everything.
_DEV_FIELD_KEY = "dev-only-field-encryption-key-not-for-production"
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY", [] if PRODUCTION else [_DEV_FIELD_KEY])
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when PRODUCTION=true")
FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEYS[0]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")

# daphne's app only makes `runserver` serve ASGI (websockets) in development; it imports Twisted,
# about 17 MB in every process, so the product's own processes (`config.server`, workers,
# scheduler) go without it.
INSTALLED_APPS = [
    *(["daphne"] if sys.argv[1:2] == ["runserver"] else []),
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "django_tasks_db",
    "accounts",
    "connectors",
    "catalog",
    "designer",
    "alerts",
    "demo",
]

# The connectors this server offers, in the order the catalog lists them. Adding one is its folder
# under connectors/ plus a line here (CONTRIBUTING.md).
CONNECTORS = [
    "connectors.qualtrics.connector.connector",
    "connectors.schedule.connector.connector",
    "connectors.webhook.connector.connector",
    "connectors.httprequest.connector.connector",
    "connectors.email.connector.connector",
    "connectors.slack.connector.connector",
    "connectors.teams.connector.connector",
    "connectors.core.connector",
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
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "accounts.middleware.CurrentTeamMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "accounts.context_processors.team",
            ],
            "libraries": {"display": "config.display"},
        },
    },
]

# The run engine prepares its statements once per PostgreSQL connection (designer/engine.py).
# Off for a pooler that hands a session's statements to other server connections (PgBouncer's
# transaction mode).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)

# Database: SQLite in WAL mode unless DATABASE_URL says otherwise.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            # Django's SQLite backend, with a quicker wait for the write lock (config/sqlite/base.py).
            "ENGINE": "config.sqlite",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "db.sqlite3")),
            # Kept between a worker's tasks (and requests of one thread), as PostgreSQL's are:
            # opening one and running its pragmas cost more than many of the queries it serves.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
            },
            # A file, not memory, so that worker processes started by tests share it; one per
            # test process, so that concurrent test runs never share one.
            "TEST": {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
    # Nothing here talks to PostgreSQL: its driver would only cost memory (config/drivers.py).
    skip_postgres_driver()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels and tasks: in-memory + database worker, or Redis + Celery.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    TASKS = {
        "default": {
            "BACKEND": "django_tasks_celery.CeleryBackend",
            "OPTIONS": {"CELERY_APP": "config.celery.app"},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # django-tasks-celery finds a task's result by its name, which Celery stores only in extended results.
    CELERY_RESULT_EXTENDED = True
    # Celery is the transport only: a run's state and outcome live in the database, and nothing reads
    # a task's result. Not storing results saves a Redis write per task in the worker, and the
    # subscription to each task's result that the sender (the webhook inbox) made per enqueue.
    CELERY_TASK_IGNORE_RESULT = True
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "flows"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# Static files are served by the application itself (WhiteNoise), straight from the source
# folders: no collectstatic step, and no separate web server needed on one machine.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "files")))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MAX_IMPORT_FILE_SIZE = 5 * 1024 * 1024  # Qualtrics refuses uploads over 5 MB.
# Any request body over this is refused with 413 before it is read (config/body_limit.py).
MAX_REQUEST_BODY_BYTES = max(DATA_UPLOAD_MAX_MEMORY_SIZE, MAX_IMPORT_FILE_SIZE) + 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONObjectParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": "10/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Qualtrics Flows API",
    "DESCRIPTION": "Session authentication; writes carry the CSRF token in the X-CSRFToken header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The API takes JSON (the upload endpoint declares its multipart body itself).
    "PARSER_WHITELIST": ["config.parsers.JSONObjectParser"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConfigurationStatusEnum": "accounts.models.ConfigurationStatus",
        "ActivationStatusEnum": "designer.models.ActivationStatus",
        "RunStatusEnum": "designer.models.RunStatus",
        "DeliverySourceEnum": "designer.models.DeliverySource",
    },
}

# Qualtrics
QUALTRICS_API_BASE = env_str("QUALTRICS_API_BASE", "https://{datacenter}.qualtrics.com/API/v3/")
QUALTRICS_SANDBOX_ENABLED = not PRODUCTION and env_bool("QUALTRICS_SANDBOX_ENABLED", True)
# The longest wait Qualtrics (Retry-After) or the rate limiter may ask for that a call sleeps
# through; a longer one raises RetryLaterError so the run is taken up again later.
QUALTRICS_MAX_INLINE_WAIT_SECONDS = env_int("QUALTRICS_MAX_INLINE_WAIT_SECONDS", 10)
# Where the rate limiter shared by all workers keeps its buckets: "redis" (the default with
# REDIS_URL), "database" (the default otherwise), "memory" (this process only) or "off".
QUALTRICS_RATE_LIMIT_BACKEND = env_str("QUALTRICS_RATE_LIMIT_BACKEND", "redis" if REDIS_URL else "database")
# Requests per minute by limit name ("brand", "export-start", ...), replacing the published
# figures in connectors/qualtrics/limits.py, e.g. QUALTRICS_RATE_LIMITS=brand=1500,export-start=50.
QUALTRICS_RATE_LIMITS: dict[str, int] = {}
for _item in env_list("QUALTRICS_RATE_LIMITS", []):
    _name, _, _value = _item.partition("=")
    if not _name.strip() or not _value.strip().isdigit() or int(_value) < 1:
        raise ImproperlyConfigured(f"QUALTRICS_RATE_LIMITS takes name=requests-per-minute pairs, not {_item!r}")
    QUALTRICS_RATE_LIMITS[_name.strip()] = int(_value)
# Requests to addresses people type (HTTP Request card, Slack and Teams webhook URLs) go only to
# public addresses; these hosts (host or host:port, comma-separated) are allowed even when they
# resolve to loopback or private addresses, e.g. an intranet API: OUTBOUND_ALLOWED_HOSTS=api.corp:8443
OUTBOUND_ALLOWED_HOSTS = [h.lower() for h in env_list("OUTBOUND_ALLOWED_HOSTS", [])]

# Email card: the SMTP server mail is sent through, read from EMAIL_* variables into Django 6.1's
# MAILERS (the EMAIL_* settings themselves are deprecated).
_EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
_EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if _EMAIL_USE_TLS and _EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 465 if _EMAIL_USE_SSL else 587 if _EMAIL_USE_TLS else 25),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": _EMAIL_USE_TLS,
            "use_ssl": _EMAIL_USE_SSL,
            "timeout": env_int("EMAIL_TIMEOUT", 30),
        },
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "flows@localhost")

# Slack: where its Web API answers (tests point it at the local stand-in).
SLACK_API_BASE = env_str("SLACK_API_BASE", "https://slack.com/api/")

# Failure alerts (alerts/): at most one per flow in this many seconds, listing the failures since the last.
ALERT_MIN_INTERVAL_SECONDS = env_int("ALERT_MIN_INTERVAL_SECONDS", 600)

POLL_INTERVAL_SECONDS = env_int("POLL_INTERVAL_SECONDS", 60)
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 600)
# Task workers (manage.py worker, Celery workers) also run the scheduler's duties in a thread;
# set to false where a separate `manage.py scheduler` process runs them.
SCHEDULER_IN_WORKERS = env_bool("SCHEDULER_IN_WORKERS", True)
SCHEDULER_INTERVAL_SECONDS = env_int("SCHEDULER_INTERVAL_SECONDS", 5)
# A worker holds a run this long; it renews the lease with every step and, during a long step, from
# a heartbeat every third of it. A run whose worker died is taken up again once it runs out.
RUN_LEASE_SECONDS = env_int("RUN_LEASE_SECONDS", 60)
# A run taken up this many times (its worker died, or the database went away) is not taken up again.
RUN_MAX_ATTEMPTS = env_int("RUN_MAX_ATTEMPTS", 3)
# Limits of one run (RELIABILITY.md, "Limits of a run"); a run that reaches one fails, naming it.
RUN_MAX_STEPS = env_int("RUN_MAX_STEPS", 5000)  # step executions, every loop iteration's steps counted
RUN_MAX_LOOP_ITEMS = env_int("RUN_MAX_LOOP_ITEMS", 1000)  # items of one For Each
RUN_MAX_LOOP_ITERATIONS = env_int("RUN_MAX_LOOP_ITERATIONS", 10000)  # For Each iterations in all
RUN_MAX_OUTPUT_BYTES = env_int("RUN_MAX_OUTPUT_BYTES", 1024 * 1024)  # one step's outputs (or inputs), as JSON
RUN_MAX_STORED_BYTES = env_int("RUN_MAX_STORED_BYTES", 20 * 1024 * 1024)  # a run's stored step data
RUN_MAX_SECONDS = env_int("RUN_MAX_SECONDS", 900)  # from the run's first start to its end
# A run that has held its worker this long gives way at its next step to another team's waiting
# run, and is taken up again after it (fairness between teams on the same workers).
RUN_SLICE_SECONDS = env_int("RUN_SLICE_SECONDS", 2)
# A run that a service asks to wait longer than is slept through inline waits without a worker,
# and is taken up again then; it waits this long in all at most, then ends failed.
RUN_MAX_WAIT_SECONDS = env_int("RUN_MAX_WAIT_SECONDS", 3600)
# While many runs wait for a worker, the webhook intake gathers deliveries a little longer before it
# stores and answers them, so that a sender that waits for its answers sends at the workers' pace
# (designer/pacing.py): from this many queued runs, longer as the queue grows, up to the longest
# hold at the full count. WEBHOOK_PACE_MAX_HOLD_MS=0 answers at once, whatever the queue.
WEBHOOK_PACE_FROM_RUNS = env_int("WEBHOOK_PACE_FROM_RUNS", 100)
WEBHOOK_PACE_FULL_RUNS = env_int("WEBHOOK_PACE_FULL_RUNS", 600)
WEBHOOK_PACE_MAX_HOLD_MS = env_int("WEBHOOK_PACE_MAX_HOLD_MS", 100)
# Runs handed to Celery in one task by the webhook inbox (designer/runs.py `_hand_over_batch`):
# a worker takes one message and does one task's bookkeeping for them, run one after the other.
RUNS_PER_TASK = env_int("RUNS_PER_TASK", 8)
INVITATION_MAX_AGE_SECONDS = env_int("INVITATION_MAX_AGE_SECONDS", 7 * 24 * 3600)

# Connections that never finish (config/server.py, RELIABILITY.md): idle and slow requests are
# closed, and one client address may hold only so many connections. HTTP_MAX_CONNECTIONS=0 means
# the file-handle limit less a reserve.
HTTP_IDLE_TIMEOUT_SECONDS = env_int("HTTP_IDLE_TIMEOUT_SECONDS", 20)
HTTP_HEADERS_TIMEOUT_SECONDS = env_int("HTTP_HEADERS_TIMEOUT_SECONDS", 10)
HTTP_BODY_TIMEOUT_SECONDS = env_int("HTTP_BODY_TIMEOUT_SECONDS", 60)
HTTP_MAX_CONNECTIONS_PER_ADDRESS = env_int("HTTP_MAX_CONNECTIONS_PER_ADDRESS", 64)
HTTP_MAX_CONNECTIONS = env_int("HTTP_MAX_CONNECTIONS", 0)

# Security: strict CSP always; HTTPS-only cookies and HSTS in production.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when PRODUCTION=true")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
