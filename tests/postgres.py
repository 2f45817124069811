"""A throw-away PostgreSQL server for the test session.

Uses PLACEMENT_TEST_POSTGRES_URL when set; otherwise starts a private cluster from the
Debian ``postgresql`` package's binaries (as the ``postgres`` user when running as root)
on a free loopback port, and stops it at the end. Returns None when neither is possible.
``private_cluster`` always starts its own server, which a test may restart."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if candidates:
        return os.path.dirname(candidates[-1])
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


@dataclass
class Cluster:
    """A private cluster: its URL, and a restart (the fault tests restart the server)."""

    url: str
    restart: Callable[[], None]


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a running PostgreSQL server, or None."""
    url = os.environ.get("PLACEMENT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    with private_cluster() as cluster:
        yield cluster.url if cluster else None


@contextmanager
def private_cluster():
    """Yield a ``Cluster`` of a private server started from Debian's binaries, or None."""
    bindir = _pg_bin()
    if bindir is None:
        yield None
        return
    root = tempfile.mkdtemp(prefix="platzplan-pg-")
    data = os.path.join(root, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        [*prefix, *args], check=True, capture_output=True, text=True
    )
    pg_ctl = [f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w"]
    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(
            *pg_ctl,
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=100",
            "start",
        )
    except (subprocess.CalledProcessError, OSError):
        shutil.rmtree(root, ignore_errors=True)
        yield None
        return
    try:
        yield Cluster(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            lambda: run(*pg_ctl, "-m", "fast", "restart"),
        )
    finally:
        subprocess.run(
            [*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
