"""Default configuration. Nothing here reads the environment: overrides come from
``instance/config.py`` and then from ``PLACEMENT_*`` environment variables (see create_app)."""

DEV_SECRET_KEY = "dev-insecure-change-me"


class DefaultConfig:
    SECRET_KEY = DEV_SECRET_KEY
    # Filled in by create_app with an absolute path inside the instance folder.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 15000
    # PostgreSQL connection pool, per process (placement/database.py; not used for SQLite).
    # Options set in SQLALCHEMY_ENGINE_OPTIONS win. Pre-ping: a connection that a database
    # restart closed is replaced before use instead of failing the request or the job.
    DB_POOL_PRE_PING = True
    DB_POOL_SIZE = 5
    DB_MAX_OVERFLOW = 5
    DB_POOL_TIMEOUT = 10  # seconds to wait for a free connection
    DB_POOL_RECYCLE = 1800  # seconds; older connections are reopened
    DB_CONNECT_TIMEOUT = 5  # seconds (libpq connect_timeout)
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024  # oversized input is refused with 413

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BTN_SIZE = "md"

    WTF_CSRF_TIME_LIMIT = None  # night shifts keep forms open for long; the session bounds it
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    # Where the app runs: "production" (the default: refuses the demo accounts, debug and
    # short secret keys), "demo" (`make run`: the demo accounts, named on the login page) or
    # "development" (debug allowed). Set with PLACEMENT_ENV.
    ENV = "production"
    # Sessions live in the database (placement/auth/session_store.py). Night shifts may
    # raise the idle timeout; the absolute lifetime bounds every session, "stay signed in"
    # ones too. With PREFERRED_URL_SCHEME = "https" every cookie is Secure (create_app).
    SESSION_IDLE_MINUTES = 30
    SESSION_MAX_HOURS = 12
    PREFERRED_URL_SCHEME = "http"
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host/-Prefix
    # (werkzeug's ProxyFix; 0 = do not trust the header). The client address counts failed
    # sign-ins, so X-Forwarded-For must only be trusted from a real proxy.
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0
    PROXY_FIX_X_PREFIX = 0
    # Failed sign-ins (per account and per client address, services/accounts/throttle.py).
    LOGIN_FREE_FAILURES = 5
    LOGIN_FIRST_DELAY_SECONDS = 30  # then doubled with every further failure
    LOGIN_MAX_DELAY_MINUTES = 15
    LOGIN_LOCK_FAILURES = 20  # the account is locked until an administrator lifts it
    LOGIN_FAILURE_WINDOW_HOURS = 24  # older failures are forgotten (not a lock)
    # Security headers (placement/security_headers.py). The reverse proxy terminates TLS,
    # so the application does not redirect to HTTPS itself; HSTS goes out over HTTPS.
    FORCE_HTTPS = False
    HSTS_MAX_AGE = 31536000  # one year

    # The JSON API and its generated description (flask-smorest).
    API_TITLE = "Platzplan API"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {"security": [{"bearer": []}]}

    # Intake rules
    RESERVATION_DEFAULT_HOURS = 2
    RESERVATION_MAX_HOURS = 72
    ABSCONDED_HOLD_DAYS = 3  # an absconded youth's place stays held this long
    MAX_FUTURE_MINUTES = 10  # tolerance for clocks when a time is typed in
    # A facility's occupancy not confirmed by its manager for longer than this is flagged
    # as possibly stale on the overview and in the place finder.
    FACILITY_CONFIRMATION_STALE_HOURS = 24
    DISCHARGE_UNDO_MINUTES = 15  # who recorded a discharge may take it back this long

    # Finding people: lists of placed and absconded youths, search results.
    PEOPLE_PAGE_SIZE = 50
    PEOPLE_MAX_PAGE_SIZE = 200
    # The API's place finder, when a page is asked for (without: every facility).
    PLACES_PAGE_SIZE = 20
    PLACES_MAX_PAGE_SIZE = 500
    DEADLINE_DUE_DAYS = 7  # "deadline due": overdue, or due within this many days
    # Forecast on the overview ("Engpass"): within how many days, from which probability,
    # comes from the alert rule forecast_over's office-wide settings (one source).
    # Forecasts from now are kept until the next audited write, at most this long (0: off).
    FORECAST_CACHE_SECONDS = 300
    # The overview's forecast column is kept through writes for this long (0: recompute
    # after every write); a facility's page and the API follow every write.
    FORECAST_BOARD_FRESH_SECONDS = 60
    # The forecast core (services/forecast): default horizon in days (at most 28) and the
    # trailing window the admission rates are measured over.
    FORECAST_DAYS = 14
    FORECAST_WINDOW_WEEKS = 12

    # Move plans. The embedded default runs the plan worker as a thread of the serving
    # process; production sets PLAN_WORKER_THREAD = False and runs `flask worker run`.
    PLAN_WORKER_THREAD = True
    PLAN_LEASE_SECONDS = 30  # a running plan whose worker is silent this long has failed
    PLAN_HEARTBEAT_SECONDS = 5
    PLAN_POLL_SECONDS = 0.5  # how often an idle worker looks for a queued plan
    PLAN_SOLVER_WORKERS = 2  # CP-SAT threads per solve

    # Alerts: the Land whose public holidays are not working days, delivery semantics.
    HOLIDAY_SUBDIVISION = "SN"  # Sachsen
    ALERT_REPEAT_HOURS = 24  # a reminder while an alert keeps firing
    ALERT_FLAP_GRACE_MINUTES = 30  # firing again this soon after resolving: same episode
    ALERT_MAX_ATTEMPTS = 8  # then the notification is a dead letter
    ALERT_RETRY_SECONDS = 60  # first retry; doubled each time
    ALERT_CLAIM_SECONDS = 300  # a sender's claim on notifications it is delivering
    ALERT_AREA_ADDRESSES: dict = {}  # planning area -> the ASD team's address (deadlines)
    ALERT_CHECK_MINUTES = 5
    ALERT_SEND_SECONDS = 60  # how often the scheduler delivers the outbox (divides 60 or 3600)
    # Hours (Europe/Berlin, cron syntax) in which the alert check and the outbox run: not
    # between 02:00 and 03:00, the hour the clock change repeats or skips.
    SCHEDULER_WAKING_HOURS = "0-1,3-23"
    DAILY_SUMMARY_AT = "07:00"
    # Reports outside a facility's own view show breakdown cells (age band, umA, end
    # reason) of 1 .. REPORT_MIN_CELL-1 youths as "<3" (statistical disclosure control).
    REPORT_MIN_CELL = 3
    LAND_REPORT_ADDRESS: str | None = None  # the Land office's address for the umA report
    LAND_REPORT_AT = "08:00"  # when the report is sent on working days
    LAND_REPORT_DEADLINE = "09:45"  # by when it must have gone; else department heads hear
    # Retention: personal fields of youths whose last stay ended this many years ago are
    # removed (stays stay, as anonymous counts: §47 SGB VIII); daily at RETENTION_AT.
    RETENTION_PERSON_YEARS = 2
    RETENTION_AT = "03:30"
    AUDIT_PAGE_SIZE = 50
    AUDIT_MAX_PAGE_SIZE = 500
    SCHEDULER_LEASE_SECONDS = 60
    SCHEDULER_HEARTBEAT_SECONDS = 15
    # Liveness of the plan worker (process or thread), a row in process_heartbeat.
    WORKER_HEARTBEAT_SECONDS = 15
    # /healthz?deep=1 answers 503 when a heartbeat is older than this (or missing).
    HEALTH_SCHEDULER_STALE_SECONDS = 60
    HEALTH_WORKER_STALE_SECONDS = 60

    # Mail (SMTP)
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "platzplan@localhost"
    MAIL_TIMEOUT = 20

    # Demo data: the scenario file shipped with the package.
    DEMO_SCENARIO = None  # None = placement/demo/leipzig-2023-11.json
