"""Settings for the personal-account portal; every value comes from the environment."""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used on a developer's machine: DEBUG is on and no key was given.
    SECRET_KEY = "dev-only-insecure-key-for-local-development-never-in-production"

# Django's yellow debug pages for 404 and 500 (with the URL list and the traceback) instead of the portal's
# own; only for developers, and only with DEBUG on.
DEBUG_ERROR_PAGES = env.bool("DEBUG_ERROR_PAGES", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin with the portal's own site: staff log in with a password and a second factor.
    "config.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "review",
    "sharing",
    "withdrawals",
    "transfers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After SessionMiddleware, so that it marks a session for renewal before SessionMiddleware saves it.
    "accounts.middleware.SessionRenewalMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Marks a staff session verified once its second factor was entered (request.user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    # The citizen's and the clerk's own error pages even with DEBUG on, unless DEBUG_ERROR_PAGES says not.
    "accounts.errors.PortalErrorPagesMiddleware",
    "accounts.middleware.PrivacyHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "accounts.context_processors.portal",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# An empty DATABASE_URL means the same as none: the embedded SQLite file.
DATABASES = {
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Parameters bound by the server, and a statement the connection has run five times prepared: PostgreSQL
    # then neither parses nor plans it again. A settlement runs a dozen such statements; this takes a third
    # off PostgreSQL's share of its CPU (README, Benchmark). Needs a direct connection, not a pooler in
    # transaction mode, as the rest of the settings already do (docs/deploy.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: PostgreSQL starts it for a query whose estimate is high (a deep page of a list of a
    # million rows, planned before LIMIT cuts it), and compiling took longer (10 ms) than it saved there.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

# Throttle counters (logins, registrations, SMS codes) live here, so with several servers it must be shared:
# CACHE_URL=redis://host:6379/0 selects Django's own RedisCache (the `redis` package), never django-redis.
USING_REDIS = env.str("CACHE_URL", default="").startswith(("redis://", "rediss://"))
CACHES = {
    "default": env.cache(
        "CACHE_URL",
        default="locmemcache://",
        backend=(
            "django.core.cache.backends.redis.RedisCache"
            if USING_REDIS
            else None
        ),
    )
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the citizen's person with the user of a session.
    "accounts.backends.PortalBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "home"

# Login throttling: five failures for one login name from one address lock it for an hour.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Picks the clerk's lockout page for the admin login and the citizen's (the template above) elsewhere.
AXES_LOCKOUT_CALLABLE = "accounts.errors.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# django-axes' own admin lists every attempt with its login name, which for a citizen is the full ID
# number; lockouts work without it (`manage.py axes_reset_username <ID number>` lifts one early). Nor
# does it keep a log of successful logins, which would hold the same numbers.
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True
# Real-name registration attempts allowed per address and hour, matched or not, so that being blocked
# tells nothing (django-axes guards only the login).
REGISTRATION_FAILURE_LIMIT = env.int("REGISTRATION_FAILURE_LIMIT", default=10)
# Failed logins allowed per address and hour, whatever the login names: axes locks (name, address) pairs
# only, so without this one address could try a few passwords on every ID number.
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
# Behind nginx set CLIENT_IP_HEADER=HTTP_X_REAL_IP (nginx: proxy_set_header X-Real-IP $remote_addr),
# so throttles count each citizen's address, not the proxy's.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="REMOTE_ADDR")
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_ip"

# Staff second factor (django-otp): TOTP apps show this name beside the login; ten single-use backup codes.
OTP_TOTP_ISSUER = "医保经办管理"
STAFF_BACKUP_CODES = 10

# One-time codes to the reserved phone (短信验证码). SMS_BACKEND is "console" (the server's log), "file"
# (one JSON file per message in SMS_FILE_PATH), "locmem" (tests) or a provider backend's dotted path, such
# as "accounts.sms_tencent.TencentCloudSmsBackend". With DEBUG off it must be set: a portal that silently
# logs the codes it should send would leave citizens unable to register or reset a password.
SMS_BACKEND = env.str("SMS_BACKEND", default="console" if DEBUG else "")
if not SMS_BACKEND:
    raise ImproperlyConfigured("SMS_BACKEND must be set when DEBUG is off (see README, Configuration).")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=BASE_DIR / "sms-outbox")
# Tencent Cloud SMS, read only by accounts.sms_tencent when SMS_BACKEND selects it.
TENCENTCLOUD_SECRET_ID = env.str("TENCENTCLOUD_SECRET_ID", default="")
TENCENTCLOUD_SECRET_KEY = env.str("TENCENTCLOUD_SECRET_KEY", default="")
TENCENT_SMS_REGION = env.str("TENCENT_SMS_REGION", default="ap-guangzhou")
TENCENT_SMS_SDK_APP_ID = env.str("TENCENT_SMS_SDK_APP_ID", default="")
TENCENT_SMS_SIGN_NAME = env.str("TENCENT_SMS_SIGN_NAME", default="")
# Template with two parameters: the code and its validity in minutes.
TENCENT_SMS_CODE_TEMPLATE_ID = env.str("TENCENT_SMS_CODE_TEMPLATE_ID", default="")
# Template with no parameter: the reserved phone was changed at the counter.
TENCENT_SMS_PHONE_CHANGED_TEMPLATE_ID = env.str("TENCENT_SMS_PHONE_CHANGED_TEMPLATE_ID", default="")
# Code requests per client address and hour (DOMAIN.md: 20); per phone and day (10).
SMS_CODES_PER_ADDRESS_PER_HOUR = env.int("SMS_CODES_PER_ADDRESS_PER_HOUR", default=20)
SMS_CODES_PER_PHONE_PER_DAY = env.int("SMS_CODES_PER_PHONE_PER_DAY", default=10)

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGES = [("zh-hans", "简体中文")]
# Compiled catalogue (django.mo) is committed, so no gettext tools are needed to run the portal.
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MATERIALS_ROOT", default=BASE_DIR / "private-materials")

STORAGES = {
    # Materials are private: no MEDIA_URL, served only through a permission-checked view.
    "default": {
        "BACKEND": env.str(
            "MATERIALS_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("MATERIALS_STORAGE_OPTIONS", default={"location": str(MEDIA_ROOT)}),
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Sessions live in the shared cache (Redis), or in the local-memory one under `make run`: a page view reads
# its session and writes nothing. A production server without Redis keeps them in the database instead, since
# each gunicorn worker's local memory is its own and a logout there would leave the session open in the others.
SESSION_ENGINE = env.str(
    "SESSION_ENGINE",
    default=(
        "django.contrib.sessions.backends.cache"
        if USING_REDIS or DEBUG
        else "django.contrib.sessions.backends.db"
    ),
)
# How long a session may sit idle. A page renews it at most once a minute (SESSION_RENEW_SECONDS, by
# accounts.middleware.SessionRenewalMiddleware) rather than writing it back on every request, so it ends
# between 29 and 30 minutes after the last page, never later; it also ends when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
SESSION_RENEW_SECONDS = env.int("SESSION_RENEW_SECONDS", default=60)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Only sends the `preload` directive; the domain joins browsers' lists when someone submits it.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
