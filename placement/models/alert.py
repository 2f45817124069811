"""Alerts with Alertmanager's delivery semantics: one state row per rule and subject with
its episode, an outbox of notifications with a unique key, silences, per-facility rule
settings, and the lease that lets only one scheduler act at a time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import AlertStatus, NotificationKind, NotificationStatus, db_enum


class Alert(Base):
    """The state of one rule for one subject ("facility:12", "stay:55:42a_report", ...).

    ``episode`` counts the times it started firing; a notification's key carries it, so a
    new episode notifies again and the same episode never twice."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("rule", "subject", name="uq_alert_rule_subject"),
        Index("ix_alert_status_severity", "status", "severity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    status: Mapped[AlertStatus] = mapped_column(db_enum(AlertStatus, "alert_status"))
    severity: Mapped[int] = mapped_column(Integer)  # 3 critical, 2 warning, 1 info
    episode: Mapped[int] = mapped_column(Integer, default=1)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="SET NULL"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stay.id", ondelete="SET NULL"))
    planning_area: Mapped[str | None] = mapped_column(String(100))
    # What the message says: facility name, counts, a pseudonymous reference, a due date.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # this episode
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # last check it fired at
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL")
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """One message to one recipient, written in the transaction that decided it. ``key``
    (rule, subject, episode, recipient, kind) is unique, so nothing is decided twice; the
    sender claims rows, delivers them grouped per recipient and marks them sent."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("key", name="uq_notification_key"),
        Index("ix_notification_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[NotificationKind] = mapped_column(db_enum(NotificationKind, "notification_kind"))
    recipient: Mapped[str] = mapped_column(String(254))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id", ondelete="SET NULL"))
    severity: Mapped[int] = mapped_column(Integer, default=1)
    # The lines of the message and, for reports, the attachment.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[NotificationStatus] = mapped_column(
        db_enum(NotificationStatus, "notification_status"), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Silence(Base):
    """No notifications for a rule (or every rule) about a facility or a stay until
    ``expires_at``; the alert state is still kept."""

    __tablename__ = "silence"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str | None] = mapped_column(String(40))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stay.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertSetting(Base):
    """A rule's thresholds, office-wide (``facility_id`` NULL) or for one facility."""

    __tablename__ = "alert_setting"
    __table_args__ = (UniqueConstraint("rule", "facility_id", name="uq_alert_setting_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProcessLease(Base):
    """Which process acts as ``name`` (the scheduler) until ``lease_until``, with its
    heartbeat; on PostgreSQL an advisory lock guards it as well."""

    __tablename__ = "process_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LandReport(Base):
    """The daily count of umA for the Land office (counts only, no persons)."""

    __tablename__ = "land_report"
    __table_args__ = (UniqueConstraint("day", name="uq_land_report_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
