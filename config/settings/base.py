"""Tend settings. Every deployment differs only in environment variables (12-factor)."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-only-for-the-local-demo-" + "x" * 20)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "guardian",
    "auditlog",
    "django_htmx",
    "csp",
    "practice",
    "clinical",
    "scheduling",
    "assessments",
    "billing",
    "portal",
    "notifications",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "practice.middleware.SessionTimeoutMiddleware",
    "practice.middleware.NoStoreMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "practice.middleware.PracticeScopeMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "csp.context_processors.nonce",
                "practice.context_processors.practice_context",
                "assessments.context_processors.risk_alerts",
                "portal.context_processors.portal_nav",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "practice.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# PBKDF2-SHA256 first: a FIPS 140-2 Annex A algorithm, as ONC 170.315(d)(12) expects.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
# ASVS 5.0 V6.2: at least 8 characters, up to 64+ allowed, no composition rules.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions: server-side, absolute cap of 12 hours; the idle time-out is a practice setting
# enforced by practice.middleware.SessionTimeoutMiddleware.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_ABSOLUTE_AGE = timedelta(hours=12)
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_AGE.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
DEFAULT_IDLE_TIMEOUT_MINUTES = 15

# Lockout after 5 failures for one email from one address (not per account alone, which would
# let anyone lock a clinician out).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "practice.views.auth.lockout_response"
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
AXES_VERBOSE = False

ANONYMOUS_USER_NAME = None  # django-guardian: no anonymous user row
GUARDIAN_MONKEY_PATCH_USER = False

OTP_TOTP_ISSUER = "Tend"

AUDITLOG_LOGENTRY_MODEL = "practice.AuditLogEntry"
# django-auditlog's own migrations would still create its (swapped-out, never written) table,
# whose foreign keys then block TRUNCATE on PostgreSQL (jazzband/django-auditlog#804).
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_MASK_CALLABLE = "practice.audit.redact"
AUDITLOG_DISABLE_REMOTE_ADDR = False

# Called with practice=... when a practice is created; each app adds what a new practice needs.
TEND_PRACTICE_SETUP_HOOKS = [
    "clinical.services.templates.note_templates_install_builtin",
    "notifications.services.notifications_install_defaults",
    "portal.intake_defaults.install_default_intake",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Patient documents live outside the web root and are served only through audited views.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
# Largest patient document accepted by the upload form and service (10 MB): scanned consents and
# outside records fit; larger files are refused before anything is stored.
TEND_MAX_UPLOAD_BYTES = env.int("TEND_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)

# Billing: the key that encrypts clearinghouse credentials at rest (billing/crypto.py). Without it,
# one is derived from SECRET_KEY; production sets its own (and rotating SECRET_KEY then keeps it).
TEND_FIELD_ENCRYPTION_KEY = env.str("TEND_FIELD_ENCRYPTION_KEY", default="")
# ISA15 of 837 files sent without a clearinghouse connection (which sets its own): T test, P production.
TEND_X12_USAGE_INDICATOR = env.str("TEND_X12_USAGE_INDICATOR", default="T")

# Outbound webhooks (integrations/webhooks.py): receivers on private, loopback or link-local
# addresses are refused (SSRF) unless allowed; plain http is refused unless allowed (or DEBUG).
TEND_WEBHOOKS_ALLOW_PRIVATE = env.bool("TEND_WEBHOOKS_ALLOW_PRIVATE", default=False)
TEND_WEBHOOKS_ALLOW_HTTP = env.bool("TEND_WEBHOOKS_ALLOW_HTTP", default=False)

# Email and SMS
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tend <no-reply@tend.local>")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Twilio's REST API base URL. Only tests and the benchmark change it (a fake Twilio on 127.0.0.1).
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")
# How email to patients leaves Tend: "django" (Django's email system as EMAIL_URL configures it:
# console, SMTP; locmem in tests) or "outbox" (stored and shown on the Outbox page, never sent).
TEND_EMAIL_BACKEND_KIND = env.str("TEND_EMAIL_BACKEND_KIND", default="django")
# How SMS leaves Tend: "twilio" (the official client) or "outbox" (demo/development: stored,
# marked sent with provider id "outbox-…"). Default: twilio when TWILIO_ACCOUNT_SID is set.
TEND_SMS_BACKEND = env.str("TEND_SMS_BACKEND", default="twilio" if TWILIO_ACCOUNT_SID else "outbox")
# Delivery attempts of one message before it is marked failed (transient errors retry with backoff).
TEND_MESSAGE_MAX_ATTEMPTS = env.int("TEND_MESSAGE_MAX_ATTEMPTS", default=5)
# Due reminders claimed per dispatch task; a full batch queues the next batch at once.
TEND_REMINDER_BATCH_SIZE = env.int("TEND_REMINDER_BATCH_SIZE", default=100)
# Dispatch batches one practice may run at once for a backlog (each claims disjoint reminders).
TEND_REMINDER_DISPATCH_PARALLEL = env.int("TEND_REMINDER_DISPATCH_PARALLEL", default=4)
# Test only: seconds each send waits before calling the provider (the worker kill test). Keep 0.
TEND_NOTIFICATIONS_TEST_SEND_DELAY = env.float("TEND_NOTIFICATIONS_TEST_SEND_DELAY", default=0.0)
# Seconds a running 837 export request may go unfinished before the recovery job runs it again
# (a live export keeps its request locked, so this only delays the retry of a dead worker's run).
TEND_CLAIM_EXPORT_LEASE_SECONDS = env.int("TEND_CLAIM_EXPORT_LEASE_SECONDS", default=600)
# Test only: seconds the 837 export waits before each file (the worker kill test). Keep 0.
TEND_CLAIM_EXPORT_TEST_FILE_DELAY = env.float("TEND_CLAIM_EXPORT_TEST_FILE_DELAY", default=0.0)

# Celery: Redis broker; eager only when no broker is configured (the SQLite demo).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True

# Security headers. Production values come from DEBUG=False; the demo runs with DEBUG=True.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.api_auth.ApiKeyAuthentication",  # Bearer tendk_... (a practice's API key)
        "practice.api_auth.MembershipTokenAuthentication",
        "practice.api_auth.PracticeSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["practice.api_auth.IsPracticeMember"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "practice.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "integrations.api_schema.TendAutoSchema",  # tags = the API-key scope domain
    "DEFAULT_THROTTLE_CLASSES": [
        "integrations.api_auth.ApiKeyRateThrottle",
        "integrations.api_auth.UserTokenRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"auth": "20/min"},
}
# Requests a minute per user across their user tokens (API keys carry their own limit).
API_USER_TOKEN_RATE_PER_MINUTE = env.int("API_USER_TOKEN_RATE_PER_MINUTE", default=600)
API_DESCRIPTION = """Practice-scoped REST API of Tend. Every credential belongs to exactly one practice, so
paths carry no practice.

## Authentication
* **User token** (`tokenAuth`): `POST /api/v1/auth/token/` with `email`, `password`, `practice` (the
  practice's slug) and, when the account has two-factor authentication (required for owners, admins and
  billers, optional for others), `otp`: the current 6-digit code of the authenticator app. The answer holds
  the token once; send it as `Authorization: Bearer tend_...`. A token acts as that membership.
* **API key** (`apiKeyAuth`): created by an owner or admin in the web app under Settings → API keys and
  shown once; send it as `Authorization: Bearer tendk_...`. A key acts for the admin who created it, limited
  to its scopes: `<domain>:read` for GET and `<domain>:write` for other methods (domains: practice, clinical,
  scheduling, assessments, billing, notifications, integrations). An endpoint outside the key's scopes
  answers 403. Auth and token endpoints do not accept API keys.

## Conventions
* Lists are paginated by page: `?page=N`; the answer is `{count, next, previous, results}` (50 a page).
* Filters are query parameters documented per operation (an unknown value is a 400 naming the parameter).
  Lists have a fixed order described on each operation; `?ordering=` is accepted only where an operation
  documents it (appointments: `starts_at` or `-starts_at`).
* Errors have one shape: `{"error": {"status", "code", "message", "fields": {field: [messages]}}}` for
  400, 401, 403, 404, 405, 409 and 429.
* Rate limits: each API key has its own limit per minute; user tokens share a limit per user. Over the
  limit the answer is 429 with a `Retry-After` header (seconds).
"""
SPECTACULAR_SETTINGS = {
    "TITLE": "Tend API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Docs page assets come from drf-spectacular-sidecar (self-hosted: no other hosts under the CSP)
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "persistAuthorization": False},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api_schema.add_common_error_responses",  # 400/401/403/404/429 in the error shape
    ],
    # Several models have a `status`; name each choice set so clients get stable enum names.
    "ENUM_NAME_OVERRIDES": {
        "PatientStatusEnum": "clinical.models.Patient.Status",
        "NoteStatusEnum": "clinical.models.ProgressNote.Status",
        "TreatmentPlanStatusEnum": "clinical.models.TreatmentPlan.Status",
        "ObjectiveStatusEnum": "clinical.models.TreatmentObjective.Status",
        # scheduling API (issue 4)
        "AppointmentStatusEnum": "scheduling.models.Appointment.Status",
        "AttendeeStatusEnum": "scheduling.models.Attendee.Status",
        "WaitlistEntryStatusEnum": "scheduling.models.WaitlistEntry.Status",
        "AppointmentModalityEnum": "scheduling.models.AppointmentType.Modality",
        "ModalityEnum": "clinical.models.Modality",  # keeps its name beside AppointmentModalityEnum
        # assessments API (issue 5)
        "AdministrationStatusEnum": "assessments.models.Administration.Status",
        "RiskAlertStatusEnum": "assessments.models.RiskAlert.Status",
        "AssignmentStatusEnum": "assessments.models.ProtocolAssignment.Status",
        # billing (issue 6)
        "ClaimStatusEnum": "billing.models.Claim.Status",
        "ChargeStatusEnum": "billing.models.Charge.Status",
        "ClaimFileStatusEnum": "billing.models.ClaimFile.Status",
        "EligibilityStatusEnum": "billing.models.EligibilityCheck.Status",
        # billing II (issue 7)
        "RemittanceStatusEnum": "billing.models.Remittance.Status",
        "DenialCaseStatusEnum": "billing.models.DenialCase.Status",
        "InstrumentCodeEnum": "assessments.serializers.INSTRUMENT_CODES",
        # scheduling and notifications API (issue 9)
        "AvailabilityExceptionKindEnum": "scheduling.models.AvailabilityException.Kind",
        "MessageChannelEnum": "notifications.models.Channel",
        "ChannelEnum": "assessments.models.DeliveryChannel",  # keeps its name beside MessageChannelEnum
        "MessageStatusEnum": "notifications.models.Message.Status",
        # integrations API (issue 9)
        "WebhookDeliveryStatusEnum": "integrations.models.WebhookDelivery.Status",
        "ImportJobStatusEnum": "integrations.models.ImportJob.Status",
        "ExportJobStatusEnum": "integrations.models.ExportJob.Status",
        "MessageThreadStatusEnum": "portal.models.MessageThread.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # asyncssh logs every connection (with the username) at INFO
    "loggers": {"axes": {"level": "WARNING"}, "asyncssh": {"level": "WARNING"}},
}
