"""gunicorn settings for the Conduit API: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment; docs/deployment.md explains the sizing.
"""

from __future__ import annotations

import gc
from typing import Any

from config import Config, ServerConfig, SettingError, load
from webapp.observability import logging_config

try:
    server_settings = load(ServerConfig)
    app_settings = load(Config)
except SettingError as error:
    # A mistyped variable stops the server with one line naming it, not a traceback.
    raise SystemExit(f"Invalid setting: {error}") from None

wsgi_app = "wsgi:app"

bind = f"{server_settings['HOST']}:{server_settings['PORT']}"

# Processes x threads = requests served at once. Two workers survive one crashing or recycling;
# threads overlap the time requests spend waiting on PostgreSQL.
workers: int = server_settings["WEB_CONCURRENCY"]
threads: int = server_settings["THREADS"]
# A worker stops accepting once it holds this many connections, so new ones go to the others.
worker_connections: int = server_settings["GUNICORN_WORKER_CONNECTIONS"] or 2 * threads
worker_class = "gthread"
# Each request thread holds at most one pooled connection, so a worker's pool is `threads`
# connections with no overflow: wsgi.py passes that to create_app (config.worker_pool) from the
# same THREADS setting. Nothing here writes os.environ.

# A worker silent for this long is killed and replaced (requests are bounded far below it).
timeout: int = server_settings["GUNICORN_TIMEOUT"]
# On SIGTERM, requests in flight get this long to finish before workers are killed.
graceful_timeout: int = server_settings["GUNICORN_GRACEFUL_TIMEOUT"]
# Idle keep-alive connections from the proxy stay open this long.
keepalive: int = server_settings["GUNICORN_KEEPALIVE"]
# Recycle workers now and then (bounded memory growth); jitter keeps them from restarting together.
max_requests: int = server_settings["GUNICORN_MAX_REQUESTS"]
max_requests_jitter: int = server_settings["GUNICORN_MAX_REQUESTS_JITTER"]

# Import the app once in the arbiter: workers fork with it loaded (faster start, shared memory)
# and a broken app fails at startup instead of in every worker.
preload_app = True

# No runtime control socket: it lives at one path per user, which concurrent servers would share.
control_socket_disable = True

# Access log through the app's logging setup: text lines or JSON objects (LOG_FORMAT), each with
# the request id the app put on the response and the duration.
accesslog = "-" if server_settings["GUNICORN_ACCESS_LOG"] else None
# gunicorn's own logger would write access lines whenever logconfig_dict is set, accesslog or not.
logger_class = "webapp.observability.GunicornLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
loglevel = app_settings["LOG_LEVEL"].lower()
logconfig_dict = logging_config(app_settings["LOG_FORMAT"], app_settings["LOG_LEVEL"])


def pre_fork(server: Any, worker: Any) -> None:
    """Freeze the loaded app's objects in the arbiter, just before a worker is forked from it.

    A worker's full garbage collection then skips them: without this it walked the ~120,000
    objects of Flask, SQLAlchemy and marshmallow each time, about 40 ms with the GIL held, every
    request thread of the worker stalled. It also leaves their memory pages shared with the
    arbiter (a collection writes to every object it walks, copying the page). See gc.freeze().
    """
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """Drop pooled connections inherited from the arbiter; each worker opens its own."""
    from webapp.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            # close=False: the parent's sockets are left alone, only forgotten by this child.
            engine.dispose(close=False)


def post_worker_init(worker: Any) -> None:
    """Compile the reads' statements before the worker serves (webapp.extensions.prepare_worker)."""
    from webapp.extensions import prepare_worker

    prepare_worker(worker.app.wsgi())
