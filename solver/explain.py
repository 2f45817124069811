"""Plain-language reasons why a youth stays in a facility that is still over capacity.

Facility managers read these, so the texts are German and say nothing about solvers. Each
reason has a stable English code for programs (the web app may translate or filter them).
The reasons are derived from the scenario and the final plan only: which facilities would
take this youth at all, which of them are excluded or too far, and whether those that are
left still have a free place.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from solver.classes import Prepared
from solver.geo import haversine_km
from solver.model import Explanation, Facility, Reason, Youth

_GENDER_TEXT = {"f": "weiblich", "m": "männlich", "d": "divers"}


def _names(facilities: list[Facility], limit: int = 3) -> str:
    shown = ", ".join(f.name for f in facilities[:limit])
    if len(facilities) > limit:
        shown += f" und {len(facilities) - limit} weitere"
    return shown


def _profile(youth: Youth) -> str:
    uma = "umA" if youth.uma else "kein umA"
    return f"{youth.age} Jahre, {_GENDER_TEXT[youth.gender]}, {uma}"


class _Explainer:
    def __init__(self, prep: Prepared, final: dict[str, str]) -> None:
        self.prep = prep
        self.final_count = Counter(final.values())
        self._accepting: dict[tuple[int, str, bool], list[int]] = {}
        self._near = [set(ns) for ns in prep.neighbours]

    def accepting(self, youth: Youth) -> list[int]:
        key = (youth.age, youth.gender, youth.uma)
        found = self._accepting.get(key)
        if found is None:
            found = [
                i
                for i, f in enumerate(self.prep.facilities)
                if f.accepts(youth.age, youth.gender, youth.uma)
            ]
            self._accepting[key] = found
        return found

    def options(self, youth: Youth) -> tuple[list[int], list[int], list[int]]:
        """Facilities accepting the profile, minus excluded ones, minus those too far."""
        home = self.prep.index[youth.facility]
        accepting = [g for g in self.accepting(youth) if g != home]
        allowed = [g for g in accepting if self.prep.facilities[g].id not in youth.excluded]
        near = self._near[home]
        reachable = [g for g in allowed if g in near]
        return accepting, allowed, reachable

    def free(self, g: int) -> int:
        return self.prep.facilities[g].capacity - self.final_count[self.prep.facilities[g].id]


def explain(
    prep: Prepared, final: dict[str, str], budget_used: bool, optimal: bool
) -> list[Explanation]:
    """An explanation for every youth who stays in a facility that is over capacity."""
    scenario = prep.scenario
    ex = _Explainer(prep, final)
    over = {f.id for f in prep.facilities if ex.final_count[f.id] > f.capacity}
    colocated: dict[tuple[str, str], list[Youth]] = defaultdict(list)
    for y in scenario.youths:
        if y.group is not None:
            colocated[(y.group, y.facility)].append(y)
    facilities = prep.facilities
    result: list[Explanation] = []
    for youth in scenario.youths:
        if youth.facility not in over or final[youth.id] != youth.facility:
            continue
        reasons: list[Reason] = []
        group = colocated.get((youth.group, youth.facility), []) if youth.group else []
        if len(group) < 2:
            group = []
        if youth.pinned:
            reasons.append(Reason("pinned", "Als nicht verlegbar markiert (fixiert)."))
        elif any(m.pinned for m in group):
            reasons.append(
                Reason(
                    "group_member_pinned",
                    f"Bleibt mit der Geschwistergruppe zusammen ({len(group)} Personen), "
                    "und ein Geschwisterkind ist als nicht verlegbar markiert.",
                )
            )
        else:
            reasons.extend(_capacity_reasons(ex, youth, group, facilities))
            if not reasons:
                if budget_used:
                    limit = scenario.max_moves
                    reasons.append(
                        Reason(
                            "move_budget_exhausted",
                            f"Die Höchstzahl von {limit} Verlegungen ist ausgeschöpft; "
                            "andere Verlegungen entlasten mehr.",
                        )
                    )
                elif not optimal:
                    reasons.append(
                        Reason(
                            "time_limit",
                            "Die Berechnung wurde beim Zeitlimit beendet; eine Verlegung "
                            "wäre vielleicht noch möglich.",
                        )
                    )
                else:
                    reasons.append(
                        Reason(
                            "others_moved_instead",
                            "Andere Verlegungen entlasten die Einrichtung ebenso gut.",
                        )
                    )
        result.append(Explanation(youth.id, youth.facility, tuple(reasons)))
    return result


def _capacity_reasons(
    ex: _Explainer, youth: Youth, group: list[Youth], facilities: tuple[Facility, ...]
) -> list[Reason]:
    scenario = ex.prep.scenario
    members = group or [youth]
    home = ex.prep.index[youth.facility]
    accepting, allowed, reachable = ex.options(youth)
    if not accepting:
        return [
            Reason(
                "no_eligible_facility",
                f"Keine andere Einrichtung nimmt diese Person auf ({_profile(youth)}).",
            )
        ]
    if not allowed:
        names = _names([facilities[g] for g in accepting])
        return [
            Reason(
                "all_excluded",
                f"Die passenden Einrichtungen ({names}) sind für diese Person ausgeschlossen.",
            )
        ]
    if not reachable:
        nearest = min(
            allowed, key=lambda g: haversine_km(facilities[home].location, facilities[g].location)
        )
        km = haversine_km(facilities[home].location, facilities[nearest].location)
        return [
            Reason(
                "too_far",
                f"Passende Einrichtungen gibt es erst weiter als {scenario.max_move_km:g} km "
                f"entfernt (nächste: {facilities[nearest].name}, {km:.1f} km).",
            )
        ]
    if group:
        common = set(reachable)
        for m in group:
            if m is not youth:
                common &= set(ex.options(m)[2])
        if not common:
            return [
                Reason(
                    "group_no_common_facility",
                    f"Keine Einrichtung in Reichweite nimmt alle {len(group)} Geschwister "
                    "gemeinsam auf.",
                )
            ]
        best_free = max(ex.free(g) for g in common)
        if best_free < len(members):
            places = "keinen freien Platz" if best_free <= 0 else f"höchstens {best_free} Plätze"
            return [
                Reason(
                    "group_too_large",
                    f"Die Geschwistergruppe ({len(group)} Personen) bleibt zusammen, aber die "
                    f"Einrichtungen, die alle aufnehmen würden, haben {places} frei.",
                )
            ]
        return []
    if all(ex.free(g) <= 0 for g in reachable):
        return [
            Reason(
                "no_free_place",
                "Alle Einrichtungen, die diese Person aufnehmen würden, sind voll: "
                f"{_names([facilities[g] for g in reachable])}.",
            )
        ]
    return []
