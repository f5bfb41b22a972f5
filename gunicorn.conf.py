"""gunicorn settings for the Conduit API: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment; docs/deployment.md explains the sizing.
"""

from __future__ import annotations

import os
from typing import Any

from config import Config
from webapp.observability import logging_config

wsgi_app = "wsgi:app"

# Loopback by default: a reverse proxy (nginx) faces the network. HOST=0.0.0.0 in a container.
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# Processes x threads = requests served at once. Two workers survive one crashing or recycling;
# threads overlap the time requests spend waiting on PostgreSQL.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("THREADS", "4"))
worker_class = "gthread"

# Each request thread holds at most one pooled connection, so a worker needs `threads` of them.
# Set before the app is loaded (preload below), where config.engine_options() reads them.
os.environ.setdefault("DB_POOL_SIZE", str(threads))
os.environ.setdefault("DB_MAX_OVERFLOW", "0")

# A worker silent for this long is killed and replaced (requests are bounded far below it).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, requests in flight get this long to finish before workers are killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Idle keep-alive connections from the proxy stay open this long.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then (bounded memory growth); jitter keeps them from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "100"))

# Import the app once in the arbiter: workers fork with it loaded (faster start, shared memory)
# and a broken app fails at startup instead of in every worker.
preload_app = True

# No runtime control socket: it lives at one path per user, which concurrent servers would share.
control_socket_disable = True

# Access log through the app's logging setup: text lines or JSON objects (LOG_FORMAT), each with
# the request id the app put on the response and the duration.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
loglevel = Config.LOG_LEVEL.lower()
logconfig_dict = logging_config(Config.LOG_FORMAT, Config.LOG_LEVEL)


def post_fork(server: Any, worker: Any) -> None:
    """Drop pooled connections inherited from the arbiter; each worker opens its own."""
    from webapp.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            # close=False: the parent's sockets are left alone, only forgotten by this child.
            engine.dispose(close=False)
