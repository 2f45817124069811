"""Twenty staff taking the last two places at the same moment, against a real threaded
server and a file-backed database (and PostgreSQL): counts and warnings must be exact."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from placement.extensions import db
from placement.models import OverOccupancyEvent
from placement.services.accounts import audit, users
from placement.services.occupancy.queries import place_states_at
from placement.timeutil import now
from tests.conftest import create_facility, create_stay, create_youth
from tests.live_server import post_json, served
from tests.openapi_check import ResponseChecker

WORKERS = 20


@pytest.fixture
def server(app):
    """The app served by werkzeug from a thread; yields (base_url, token, facility_id)."""
    with app.app_context():
        facility = create_facility(licensed=5, name="Letzte Plätze", age_min=12, age_max=17)
        for _ in range(3):  # 3 of 5 places taken: 2 free
            create_stay(create_youth(), facility, "2024-01-01 08:00")
        users.create_user(
            audit.CLI, email="nacht@example.org", role="on_call", password="long enough password"
        )
        token = users.issue_token(audit.CLI, "nacht@example.org")
        db.session.commit()
        facility_id = facility.id
    with served(app) as base_url:
        yield f"{base_url}/api/v1", token, facility_id


def _run_all(calls, checker) -> list[tuple[str, int, dict]]:
    """Start every call at the same instant; return (kind, status, body) per call, each
    answer checked against the OpenAPI document."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, kind, url, token, body):
        barrier.wait()
        results[i] = (kind, *post_json(url, token, body))

    threads = [threading.Thread(target=worker, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result is not None for result in results), "a request did not finish"
    for (_kind, url, _token, _body), (_, status, body) in zip(calls, results, strict=True):
        checker.check_raw("POST", url, status, body)
    return results


@pytest.fixture
def checker(app):
    return ResponseChecker(app)


def _admission(base, token, facility_id, i):
    return (
        "admit",
        f"{base}/admissions",
        token,
        {
            "facility_id": facility_id,
            "legal_basis": "42-1-2",
            "youth": {
                "reference": f"C-{i:02d}",
                "birth_date": "2010-01-01",
                "gender": "m",
                "uma": False,
            },
        },
    )


def _reservation(base, token, facility_id):
    return ("reserve", f"{base}/reservations", token, {"facility_id": facility_id})


def test_simultaneous_admissions_each_see_the_truth(app, server, checker):
    base, token, facility_id = server
    results = _run_all([_admission(base, token, facility_id, i) for i in range(WORKERS)], checker)
    assert Counter(status for _, status, _ in results) == {201: WORKERS}
    warnings = [body["warnings"] for _, _, body in results]
    assert sum(1 for w in warnings if not w) == 2  # the two free places
    over = sorted(w[0]["occupied"] for w in warnings if w)
    # Every later admission saw a different, exact count: 6, 7, ... 23 on 5 places.
    assert over == list(range(6, 3 + WORKERS + 1))
    assert all(w[0]["code"] == "over_capacity" and w[0]["limit"] == 5 for w in warnings if w)
    with app.app_context():
        assert place_states_at(now())[facility_id].occupied == 3 + WORKERS
        assert db.session.query(OverOccupancyEvent).count() == WORKERS - 2


def test_simultaneous_reservations_never_hand_out_a_place_twice(app, server, checker):
    base, token, facility_id = server
    results = _run_all([_reservation(base, token, facility_id) for _ in range(WORKERS)], checker)
    assert Counter(status for _, status, _ in results) == {201: 2, 409: WORKERS - 2}
    with app.app_context():
        assert place_states_at(now())[facility_id].reservations == 2
        assert place_states_at(now())[facility_id].occupied == 3


def test_mixed_admissions_and_reservations(app, server, checker):
    base, token, facility_id = server
    calls = []
    for i in range(WORKERS // 2):
        calls += [_admission(base, token, facility_id, i), _reservation(base, token, facility_id)]
    results = _run_all(calls, checker)
    admitted = [body for kind, status, body in results if kind == "admit"]
    assert all(status == 201 for kind, status, _ in results if kind == "admit")
    over = [
        body["warnings"][0]
        for body in admitted
        if body["warnings"] and body["warnings"][0]["code"] == "over_capacity"
    ]
    assert sorted(w["occupied"] for w in over) == list(range(6, 3 + WORKERS // 2 + 1))
    reserved = sum(1 for kind, status, _ in results if kind == "reserve" and status == 201)
    refused = sum(1 for kind, status, _ in results if kind == "reserve" and status == 409)
    assert reserved + refused == WORKERS // 2 and reserved <= 2
    with app.app_context():
        assert place_states_at(now())[facility_id].reservations == reserved
        assert place_states_at(now())[facility_id].occupied == 3 + WORKERS // 2
