"""Audit trail: who did or viewed what, when, with the state before and after.

The rows form a hash chain (``seq``, ``prev_hash``, ``hash``): see
placement.services.accounts.audit for how an entry is sealed and checked, and
placement.services.accounts.retention for how personal values are erased from sealed rows
without breaking the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from placement.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """One audited write or view of personal data. Rows are only ever appended."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_user_at", "user_id", "at"),
        Index("ix_audit_event_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # Who, as text, so that CLI runs and jobs are attributable too ("cli", "scheduler").
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    # The chain: position (1, 2, ...; unique, so that two writers can never both append
    # entry n), the previous entry's hash and this entry's hash (SHA-256, hex).
    seq: Mapped[int] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Random per-entry salt of the digests that stand for personal values in the hash;
    # None once retention erased the entry's personal values (the digests are then kept in
    # ``erased``, path -> digest, and the salt is gone so they cannot be guessed back).
    salt: Mapped[str | None] = mapped_column(String(32))
    erased: Mapped[dict[str, str] | None] = mapped_column(JSON)
