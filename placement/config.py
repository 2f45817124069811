"""Default configuration. Nothing here reads the environment: overrides come from
``instance/config.py`` and then from ``PLACEMENT_*`` environment variables (see create_app)."""

DEV_SECRET_KEY = "dev-insecure-change-me"


class DefaultConfig:
    SECRET_KEY = DEV_SECRET_KEY
    # Filled in by create_app with an absolute path inside the instance folder.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 15000
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024  # oversized input is refused with 413

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BTN_SIZE = "md"

    WTF_CSRF_TIME_LIMIT = None  # night shifts keep forms open for long; the session bounds it
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True

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

    # Move plans. The embedded default runs the plan worker as a thread of the serving
    # process; production sets PLAN_WORKER_THREAD = False and runs `flask worker run`.
    PLAN_WORKER_THREAD = True
    PLAN_LEASE_SECONDS = 30  # a running plan whose worker is silent this long has failed
    PLAN_HEARTBEAT_SECONDS = 5
    PLAN_POLL_SECONDS = 0.5  # how often an idle worker looks for a queued plan
    PLAN_SOLVER_WORKERS = 2  # CP-SAT threads per solve

    # Demo data: the scenario file shipped with the package.
    DEMO_SCENARIO = None  # None = placement/demo/leipzig-2023-11.json
