"""Fixtures for the transfer solver tests (independent of the web app's tests/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import solver_testkit  # noqa: E402

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture
def leipzig_path() -> Path:
    path = SHARED / "scenarios" / "leipzig-2023-11.json"
    if not path.exists():
        pytest.skip("shared Leipzig scenario not available")
    return path


@pytest.fixture
def facility() -> Callable[..., dict[str, Any]]:
    return solver_testkit.facility


@pytest.fixture
def youth() -> Callable[..., dict[str, Any]]:
    return solver_testkit.youth


@pytest.fixture
def scenario() -> Callable[..., dict[str, Any]]:
    return solver_testkit.scenario


@pytest.fixture
def solve() -> Callable[..., dict[str, Any]]:
    return solver_testkit.solve_checked


@pytest.fixture
def brute_force() -> Callable[[dict[str, Any]], Any]:
    return solver_testkit.brute_force
