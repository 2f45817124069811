"""Transfer plans: a scenario built from the database, solved off the request by a job
runner, reviewed, approved and executed as moves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import PlanScope, PlanStatus, db_enum


class Plan(Base):
    """One planning run. ``parameters`` are what was asked, ``scenario`` the
    placement-scenario/1 document built from the database (ids are database ids as
    strings), ``fingerprint`` what the scenario was built from (to refuse stale plans),
    ``result`` the placement-plan/1 document. A runner holds a ``lease`` while solving."""

    __tablename__ = "plan"
    __table_args__ = (
        Index("ix_plan_status_created", "status", "created_at"),
        Index("ix_plan_relieve_facility", "relieve_facility_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[PlanStatus] = mapped_column(
        db_enum(PlanStatus, "plan_status"), default=PlanStatus.QUEUED
    )
    scope: Mapped[PlanScope] = mapped_column(db_enum(PlanScope, "plan_scope"))
    relieve_facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facility.id", ondelete="RESTRICT")
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    time_limit: Mapped[float] = mapped_column(Float)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The job runner's lease: who solves it, until when the lease holds, last heartbeat.
    worker_id: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    greedy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Youth ids (as in the scenario) of the moves chosen for execution.
    approved_moves: Mapped[list[str] | None] = mapped_column(JSON)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    executed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    executed_moves: Mapped[int | None] = mapped_column(Integer)
    # Why it went stale: [code, subject] pairs of what changed since it was computed.
    stale_reason: Mapped[list[list[str]] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.status}>"
