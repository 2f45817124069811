"""The real processes for the fault tests (tests/test_faults.py): gunicorn as the load
benchmark starts it (``benchmarks/bench_load.py``), ``flask --app placement scheduler run``
and ``flask --app placement worker run``, each in a process group of its own so that a test
can SIGKILL it and always clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    condition: Callable[[], object],
    what: str | Callable[[], str],
    timeout: float = 30,
    every: float = 0.05,
):
    """Poll ``condition`` until it is truthy; its value. Fails naming ``what`` (a callable
    is asked only then: a process's log, say)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what() if callable(what) else what}")
        time.sleep(every)


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (gunicorn's workers under the master)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return sorted(int(child) for child in text.split())


def environment(url: str, instance: Path, **settings: object) -> dict[str, str]:
    """The environment of an app process: the database, the instance folder, production
    mode, and ``settings`` as PLACEMENT_* variables (parsed as JSON by create_app)."""
    from benchmarks.bench_load import SECRET_KEY

    env = {
        **os.environ,
        "PLACEMENT_SQLALCHEMY_DATABASE_URI": url,
        "PLACEMENT_SECRET_KEY": SECRET_KEY,
        "PLACEMENT_INSTANCE_PATH": str(instance),
        "PLACEMENT_ENV": "production",
        "PLACEMENT_PLAN_WORKER_THREAD": "false",
    }
    env.update({f"PLACEMENT_{name}": str(value) for name, value in settings.items()})
    return env


class FlaskProcess:
    """``flask --app placement <args>`` in a process group of its own, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> FlaskProcess:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "placement", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group (no handler runs, nothing is cleaned up)."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@contextmanager
def flask_process(args: list[str], env: dict[str, str], log: Path) -> Iterator[FlaskProcess]:
    process = FlaskProcess(args, env, log).start()
    try:
        yield process
    finally:
        process.kill()


@contextmanager
def gunicorn(url: str, instance: Path, workers: int = 2) -> Iterator[tuple[str, int]]:
    """gunicorn with deploy/gunicorn.conf.py and ``workers`` workers on a free loopback
    port, started by the load benchmark's own function; yields (base URL, master pid)."""
    from benchmarks import bench_load

    port = bench_load.free_port()
    saved, bench_load.WORKERS = bench_load.WORKERS, workers
    try:
        server = bench_load.start_gunicorn(url, port, str(instance))
    finally:
        bench_load.WORKERS = saved
    try:
        wait_for(lambda: len(children(server.pid)) == workers, "every gunicorn worker up")
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        workers_now = children(server.pid)
        bench_load.stop_gunicorn(server)
        for pid in workers_now:  # a worker the master could no longer stop
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
