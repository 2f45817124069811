"""Liveness of the background processes: one heartbeat row per kind of process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from placement.models.base import Base, UTCDateTime


class ProcessHeartbeat(Base):
    """The last sign of life of a kind of process (``plan_worker``), from whichever of
    them beat last (``holder``: host, pid); /healthz?deep=1 reports its age. The scheduler
    keeps its heartbeat in its lease row (``ProcessLease``)."""

    __tablename__ = "process_heartbeat"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)
