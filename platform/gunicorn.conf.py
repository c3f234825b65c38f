"""Gunicorn settings for the platform's web process.

Used by the container image's default command:

    gunicorn --config platform/gunicorn.conf.py config.wsgi:application

Environment:
    WEB_CONCURRENCY      worker processes (default 2). Each holds one persistent database
                         connection (CONN_MAX_AGE), so count them in the database's
                         connection budget (docs/operations.md).
    PORT                 port to listen on, on every interface (default 8000)
    GUNICORN_TIMEOUT     seconds before a stuck worker is killed and replaced (default 30)
    GUNICORN_LOG_LEVEL   gunicorn's own log level (default info)
    FORWARDED_ALLOW_IPS  read by gunicorn itself: proxies whose X-Forwarded-* it trusts
"""

import os

# Sync workers: one request at a time per process. Requests are short and
# database-bound, and django-tenants sets the schema on the process's database
# connection for each request; long work goes to Celery, not to web threads.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5  # behind a proxy that keeps connections open

# Request lines up to gunicorn's maximum: a long search (Chinese is 9 bytes a character
# once URL-encoded) reaches Django, which answers it with the platform's own message
# (MAX_URL_BYTES, the search's length limit) instead of gunicorn's raw error page.
limit_request_line = 8190

# Recycle workers now and then so that slow leaks cannot grow without bound.
max_requests = 1000
max_requests_jitter = 100

# The workers' heartbeat files live in memory: a container's /tmp may be on a slow
# overlay file system. (gunicorn creates them itself, unlinked; nothing else goes there.)
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# Logs go to stdout/stderr, for the container runtime to collect. The access log
# carries the Host header: it names the bank (or the portal) that served the request.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s "%({x-forwarded-for}i)s" %({host}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms '
    '"%(f)s" "%(a)s"'
)

proc_name = "rural-bank-mall-web"
