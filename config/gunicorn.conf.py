"""gunicorn settings for the portal: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every value can be overridden from the environment, so one file serves every host.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The usual sizing for synchronous workers: the requests wait on PostgreSQL, not on the CPU.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak cannot grow without bound; the jitter keeps them from
# restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Load Django once in the master: workers start faster and share memory. Database connections are
# opened per worker on first use, so none is shared across the fork.
preload_app = True
# Logs go to stdout/stderr for systemd's journal or the container runtime to collect.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# gunicorn's default line holds the whole request line and the referrer, query strings included; the
# admin's search puts a citizen's full ID number there (?q=...), and the next pages carry it on
# (?_changelist_filters=..., and the Referer). So the log keeps the path only: method, path, protocol.
access_log_format = '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only the proxy on this host may set X-Forwarded-*; nginx on another host must be listed here.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
