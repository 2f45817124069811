"""Gunicorn settings for Platzplan: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Several workers behind the reverse proxy on this host. The scheduler and the plan worker
are processes of their own (platzplan-scheduler.service, platzplan-worker.service), never
threads of these web workers. Every value can be overridden on the command line or with
GUNICORN_CMD_ARGS (e.g. GUNICORN_CMD_ARGS="--bind=127.0.0.1:8001")."""

import gc
import multiprocessing
import os

# Only the reverse proxy on this machine talks to gunicorn.
bind = os.environ.get("PLATZPLAN_BIND", "127.0.0.1:8000")
# Sync workers: requests are short (solver runs happen in the plan worker). Each worker
# holds its own database pool (DB_POOL_SIZE + DB_MAX_OVERFLOW connections at most).
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
worker_class = "sync"
timeout = 60  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on TERM/HUP, running requests get this long to finish
keepalive = 5
# Recycle workers now and then (bounded memory); the jitter keeps them from all going at once.
max_requests = 2000
max_requests_jitter = 200
# The app is not preloaded: each worker opens its own database connections after the fork.
preload_app = False

# Trust X-Forwarded-Proto (wsgi.url_scheme) only from the proxy on this host. The client
# address and the scheme for the app itself come from ProxyFix
# (PLACEMENT_PROXY_FIX_X_FOR=1, PLACEMENT_PROXY_FIX_X_PROTO=1; see docs/production.md).
forwarded_allow_ips = "127.0.0.1,::1"

# Logs to stderr (the journal under systemd). The access log names the path without the
# query string and without the referrer: queries may carry names or file numbers (search).
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
proc_name = "platzplan-web"


def post_worker_init(worker) -> None:
    """Freeze what the worker has built at start-up (the app, its models, schemas and
    translations: about 200,000 objects) out of the garbage collector's sight. A full
    collection then looks at the requests' objects only: measured on the load benchmark's
    request mix, one took about 100 ms of CPU before (stalling every request queued behind
    it) and about 6 ms after. Nothing frozen is freed, and nothing of it is meant to be."""
    gc.collect()
    gc.freeze()
