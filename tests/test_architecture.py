"""The shape of the code: no import circles, services in layers, a pure capacity core, thin
views, and a solver that knows nothing of Flask or the database. Read from the source by
grimp (imports inside functions count too)."""

from __future__ import annotations

import grimp
import pytest

SERVICE_LAYERS = [
    "health",
    "seed",
    "reporting",
    "alerts",
    "forecast",
    "planning",
    "people",
    "intake",
    "facilities",
    "occupancy",
    "accounts",
    "paging",
    "errors",
]


@pytest.fixture(scope="module")
def graph():
    # No cache: a stale one hides new packages (and would be a file in the checkout).
    return grimp.build_graph("placement", "solver", include_external_packages=True, cache_dir=None)


def _cycles(graph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.find_modules_directly_imported_by(module) & modules:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_anywhere(graph):
    for package in ("placement", "solver"):
        modules = {package, *graph.find_descendants(package)}
        assert _cycles(graph, modules) == [], package


def test_service_slices_import_only_the_layers_below(graph):
    illegal = graph.find_illegal_dependencies_for_layers(
        layers=SERVICE_LAYERS, containers={"placement.services"}
    )
    assert not illegal, [(d.importer, d.imported) for d in illegal]


def test_the_capacity_core_is_pure(graph):
    imported = graph.find_modules_directly_imported_by("placement.services.occupancy.core")
    assert not {m for m in imported if m.split(".")[0] in ("sqlalchemy", "flask", "placement")}


def test_views_and_api_endpoints_build_no_queries(graph):
    adapters = [
        m
        for m in graph.find_descendants("placement")
        if m.endswith(".routes") or m.startswith("placement.api.")
    ]
    assert "placement.intake.routes" in adapters and "placement.api.intake" in adapters
    for module in adapters:
        imported = graph.find_modules_directly_imported_by(module)
        assert "sqlalchemy" not in imported, module
        assert "placement.models" not in imported, module


def test_solver_imports_neither_flask_nor_the_database(graph):
    solver = {"solver", *graph.find_descendants("solver")}
    for module in solver:
        imported = graph.find_modules_directly_imported_by(module)
        assert not {m for m in imported if m.split(".")[0] in ("flask", "sqlalchemy", "placement")}
