"""gunicorn settings for the hand-written reference: the project's gunicorn.conf.py without its
app-specific parts (hooks that reach into the Flask app, the app module itself), so the reference
runs with the same workers, threads, timeouts and logging as the app it is compared with."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import ModuleType

_PROJECT_CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
_SKIPPED = {"wsgi_app", "bind"}  # bench/run.py names the app and the port

if _PROJECT_CONF.exists():
    for _name, _value in runpy.run_path(str(_PROJECT_CONF)).items():
        if _name.startswith("_") or _name in _SKIPPED:
            continue
        if callable(_value) or isinstance(_value, ModuleType):
            continue  # hooks (post_fork, ...), imported helpers and modules
        globals()[_name] = _value
