"""Pages of a result list: checked page numbers and sizes, the total and the slice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import current_app

from placement.services.errors import Code, RuleViolation

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results: ``items``, the 1-based ``page``, its size and the total."""

    items: list[T]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        """The 1-based position of the first item shown (0 when there are none)."""
        return (self.page - 1) * self.page_size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.page_size + len(self.items)


def checked_paging(
    page: int | None,
    page_size: int | None,
    default: str = "PEOPLE_PAGE_SIZE",
    maximum: str = "PEOPLE_MAX_PAGE_SIZE",
) -> tuple[int, int]:
    """The page (default 1) and page size (default and maximum from the configuration keys
    ``default`` and ``maximum``), refused outside those bounds."""
    size = int(current_app.config[default]) if page_size is None else page_size
    if not 1 <= size <= int(current_app.config[maximum]):
        raise RuleViolation(Code.OUT_OF_RANGE, "page_size")
    number = 1 if page is None else page
    if number < 1:
        raise RuleViolation(Code.OUT_OF_RANGE, "page")
    return number, size


def page_of(rows: Sequence[T], page: int, page_size: int) -> Page[T]:
    """The page of ``rows`` (all rows, in order)."""
    start = (page - 1) * page_size
    return Page(list(rows[start : start + page_size]), page, page_size, len(rows))
