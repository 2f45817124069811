"""deploy/gunicorn.conf.py: a worker freezes its start-up objects once the app is loaded."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def test_a_worker_freezes_what_it_built_at_start_up():
    settings = runpy.run_path(str(CONF))
    assert settings["worker_class"] == "sync" and settings["preload_app"] is False
    before = gc.get_freeze_count()
    try:
        settings["post_worker_init"](None)
        frozen = gc.get_freeze_count()
        assert frozen > before
        # A full collection now leaves the frozen objects alone.
        gc.collect()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
