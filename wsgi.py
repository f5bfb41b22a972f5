"""WSGI entry point: what gunicorn and `flask` import."""

from config import ServerConfig, SettingError, load, worker_pool
from webapp.app import create_app

try:
    # gunicorn.conf.py serves this app with ServerConfig's THREADS request threads per worker;
    # the pool is sized for them here, through create_app's overrides, and not by gunicorn.conf.py
    # writing os.environ: gunicorn loads the app (preload) before any of its hooks could pass a
    # value, and this import is the one place both see. `flask` commands get the same pool.
    app = create_app(overrides=worker_pool(load(ServerConfig)["THREADS"]))
except SettingError as error:
    # A mistyped variable stops the server with one line naming it, not a traceback.
    raise SystemExit(f"Invalid setting: {error}") from None
