"""The CP-SAT model over aggregated units, one function per constraint family.

Variables live in `ModelVars` (the variable container). `x[u, g]` is the number of items of
unit `u` (youths of a class, or the whole group for a group unit) that move to facility `g`;
only eligible (unit, target) pairs get a variable. Occupancy is a linear expression, and the
overflow and reserve-shortfall variables get the tightest domains the data allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from solver.classes import Assignment, Component, Prepared


@dataclass(slots=True)
class ModelVars:
    x: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    overflow: dict[int, cp_model.IntVar] = field(default_factory=dict)
    shortfall: dict[int, cp_model.IntVar] = field(default_factory=dict)
    occupancy: dict[int, cp_model.LinearExprT] = field(default_factory=dict)
    occupancy_range: dict[int, tuple[int, int]] = field(default_factory=dict)
    levels: list[cp_model.LinearExprT] = field(default_factory=list)
    level_terms: list[tuple[list[cp_model.IntVar], list[int]]] = field(default_factory=list)
    targets: dict[int, list[int]] = field(default_factory=dict)

    def level_value(self, level: int, values: dict[cp_model.IntVar, int]) -> int:
        """A level's value under a complete assignment of values to variables."""
        variables, coeffs = self.level_terms[level]
        return sum(c * values[v] for v, c in zip(variables, coeffs, strict=True))


@dataclass(slots=True)
class TransferModel:
    model: cp_model.CpModel
    vars: ModelVars
    units: list[int]
    facilities: list[int]


def add_move_variables(
    model: cp_model.CpModel,
    prep: Prepared,
    units: list[int],
    mv: ModelVars,
    domains: dict[tuple[int, int], tuple[int, int]] | None = None,
) -> None:
    """One variable per eligible (unit, target): how many of the unit's items go there.

    `domains` (from reduced-cost fixing) narrows them; pairs fixed at zero get no variable.
    """
    for ui in units:
        unit = prep.units[ui]
        for g in unit.targets:
            lo, hi = (0, unit.count) if domains is None else domains.get((ui, g), (0, 0))
            if hi <= 0:
                continue
            if unit.count == 1:
                mv.x[ui, g] = model.new_bool_var(f"x_{ui}_{g}")
                if lo:
                    model.add(mv.x[ui, g] == 1)
            else:
                mv.x[ui, g] = model.new_int_var(lo, hi, f"x_{ui}_{g}")
        mv.targets[ui] = [g for g in unit.targets if (ui, g) in mv.x]


def add_unit_conservation(
    model: cp_model.CpModel,
    prep: Prepared,
    units: list[int],
    mv: ModelVars,
    stay_bounds: dict[int, tuple[int, int]] | None = None,
) -> None:
    """Rule 1 and 5: each item ends in one place; a group unit moves whole or not at all."""
    for ui in units:
        unit = prep.units[ui]
        xs = [mv.x[ui, g] for g in mv.targets[ui]]
        if not xs:
            continue
        stay_lo, stay_hi = (0, unit.count) if stay_bounds is None else stay_bounds[ui]
        if unit.count == 1 and stay_lo == 0:
            if len(xs) > 1:
                model.add_at_most_one(xs)
        else:
            model.add_linear_constraint(sum(xs), unit.count - stay_hi, unit.count - stay_lo)


def add_occupancy(
    model: cp_model.CpModel, prep: Prepared, units: list[int], facilities: list[int], mv: ModelVars
) -> None:
    """Final occupancy per facility, with its range (fixed youths .. everyone who may come)."""
    out_terms: dict[int, list] = {f: [] for f in facilities}
    in_terms: dict[int, list] = {f: [] for f in facilities}
    inflow_max = dict.fromkeys(facilities, 0)
    for ui in units:
        unit = prep.units[ui]
        for g in mv.targets[ui]:
            out_terms[unit.home].append(unit.size * mv.x[ui, g])
            in_terms[g].append(unit.size * mv.x[ui, g])
            inflow_max[g] += unit.size * unit.count
    for f in facilities:
        mv.occupancy[f] = prep.occupancy[f] - sum(out_terms[f]) + sum(in_terms[f])
        mv.occupancy_range[f] = (prep.fixed[f], prep.occupancy[f] + inflow_max[f])


def add_overflow(
    model: cp_model.CpModel, prep: Prepared, facilities: list[int], mv: ModelVars
) -> None:
    """overflow_f >= occupancy_f - capacity_f, only where the range can exceed capacity."""
    for f in facilities:
        lo, hi = mv.occupancy_range[f]
        cap = prep.facilities[f].capacity
        if hi > cap:
            var = model.new_int_var(max(0, lo - cap), hi - cap, f"over_{f}")
            model.add(var >= mv.occupancy[f] - cap)
            mv.overflow[f] = var


def add_reserve_shortfall(
    model: cp_model.CpModel, prep: Prepared, facilities: list[int], mv: ModelVars
) -> None:
    """shortfall_f >= occupancy_f - (capacity_f - reserve_f)."""
    for f in facilities:
        lo, hi = mv.occupancy_range[f]
        usable = prep.facilities[f].capacity - prep.facilities[f].reserve
        if hi > usable:
            var = model.new_int_var(max(0, lo - usable), hi - usable, f"short_{f}")
            model.add(var >= mv.occupancy[f] - usable)
            mv.shortfall[f] = var


def add_move_budget(
    model: cp_model.CpModel, prep: Prepared, units: list[int], mv: ModelVars, budget: int | None
) -> None:
    """Rule 6: at most `budget` youths move (a group of three counts three)."""
    if budget is not None:
        xs = list(mv.x.values())
        sizes = [prep.units[ui].size for ui, _g in mv.x]
        model.add(cp_model.LinearExpr.weighted_sum(xs, sizes) <= budget)


def add_objective_levels(prep: Prepared, units: list[int], mv: ModelVars) -> None:
    """The four lexicographic levels as (variables, coefficients), in priority order."""
    keys = list(mv.x)
    xs = [mv.x[k] for k in keys]
    sizes = [prep.units[ui].size for ui, _g in keys]
    dist_of = {
        (ui, g): d
        for ui in units
        for g, d in zip(prep.units[ui].targets, prep.units[ui].dists, strict=True)
    }
    dists = [prep.units[ui].size * dist_of[ui, g] for ui, g in keys]
    over = list(mv.overflow.values())
    short = list(mv.shortfall.values())
    mv.level_terms = [
        (over, [1] * len(over)),
        (short, [1] * len(short)),
        (xs, sizes),
        (xs, dists),
    ]
    mv.levels = [cp_model.LinearExpr.weighted_sum(v, c) for v, c in mv.level_terms]


def build_model(
    prep: Prepared,
    components: list[Component],
    budget: int | None,
    domains: dict[tuple[int, int], tuple[int, int]] | None = None,
    stay_bounds: dict[int, tuple[int, int]] | None = None,
) -> TransferModel:
    """The CP-SAT model for one or more components, optionally sharing a move budget."""
    units = [ui for comp in components for ui in comp.units]
    facilities = [f for comp in components for f in comp.facilities]
    model = cp_model.CpModel()
    mv = ModelVars()
    add_move_variables(model, prep, units, mv, domains)
    add_unit_conservation(model, prep, units, mv, stay_bounds)
    add_occupancy(model, prep, units, facilities, mv)
    add_overflow(model, prep, facilities, mv)
    add_reserve_shortfall(model, prep, facilities, mv)
    add_move_budget(model, prep, units, mv, budget)
    add_objective_levels(prep, units, mv)
    return TransferModel(model, mv, units, facilities)


def hint_values(
    tm: TransferModel, prep: Prepared, assignment: Assignment
) -> dict[cp_model.IntVar, int]:
    """Values for every variable (auxiliary ones too) that represent `assignment`."""
    values: dict[cp_model.IntVar, int] = {}
    occ = {f: prep.occupancy[f] for f in tm.facilities}
    for ui in tm.units:
        unit = prep.units[ui]
        chosen = assignment.get(ui, {})
        for g in tm.vars.targets[ui]:
            k = chosen.get(g, 0)
            values[tm.vars.x[ui, g]] = k
            occ[unit.home] -= k * unit.size
            occ[g] += k * unit.size
    for f, var in tm.vars.overflow.items():
        values[var] = max(0, occ[f] - prep.facilities[f].capacity)
    for f, var in tm.vars.shortfall.items():
        fac = prep.facilities[f]
        values[var] = max(0, occ[f] - fac.capacity + fac.reserve)
    return values


def assignment_from(tm: TransferModel, prep: Prepared, solver: cp_model.CpSolver) -> Assignment:
    result: Assignment = {}
    for (ui, g), var in tm.vars.x.items():
        k = solver.value(var)
        if k:
            result.setdefault(ui, {})[g] = int(k)
    return result
