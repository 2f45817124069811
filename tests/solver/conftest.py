"""Fixtures for the transfer solver tests (independent of the web app's tests/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import solver_testkit  # noqa: E402

# The Leipzig scenario ships with the app as demo data (a copy of shared/scenarios/...), so
# these tests run in every checkout.
LEIPZIG = Path(__file__).resolve().parents[2] / "placement" / "demo" / "leipzig-2023-11.json"


@pytest.fixture
def leipzig_path() -> Path:
    return LEIPZIG


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
