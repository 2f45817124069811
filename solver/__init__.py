"""Transfer solver for Platzplan: pure Python and OR-Tools, no web framework, no database.

Library API::

    from solver import propose, validate_plan, parse_scenario_dict

    plan = propose(scenario_dict, time_limit=30, workers=2)   # -> solver.model.Plan
    plan.to_dict()                                          # placement-plan/1 document
    validate_plan(scenario_dict, plan)                      # -> ValidationResult
"""

from solver.model import (
    FEASIBLE,
    INVALID_INPUT,
    OPTIMAL,
    Explanation,
    InputError,
    Move,
    Objective,
    Plan,
    Reason,
    Scenario,
)
from solver.parse import parse_scenario_dict, parse_scenario_text, scenario_to_dict
from solver.solve import propose
from solver.validate import ValidationResult, validate_plan

__all__ = [
    "FEASIBLE",
    "INVALID_INPUT",
    "OPTIMAL",
    "Explanation",
    "InputError",
    "Move",
    "Objective",
    "Plan",
    "Reason",
    "Scenario",
    "ValidationResult",
    "parse_scenario_dict",
    "parse_scenario_text",
    "propose",
    "scenario_to_dict",
    "validate_plan",
]
