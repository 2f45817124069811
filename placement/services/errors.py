"""Domain errors. Each carries the offending field, so that forms and the API can name it."""

from __future__ import annotations


class PlacementError(Exception):
    """Base class of every rule violation a user can cause."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.message, "field": self.field}


class NotFound(PlacementError):
    status_code = 404


class OverlappingStay(PlacementError):
    status_code = 409


class OpenStayExists(PlacementError):
    status_code = 409


class InvalidPeriod(PlacementError):
    pass


class InvalidScenario(PlacementError):
    """A scenario file that cannot be imported; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors), field="scenario")
        self.errors = errors
