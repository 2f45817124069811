"""Scheduled jobs: plain functions that take the app, open their own app context and
commit once per step. The scheduler process (``placement.scheduler``) and the
``flask alerts ...`` commands call them; nothing here runs inside web workers."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from placement import mail
from placement.extensions import db
from placement.messages import alert_line
from placement.models import Alert, LandReport, Notification, User
from placement.models.enums import (
    AlertStatus,
    NotificationKind,
    NotificationStatus,
    Role,
)
from placement.services.accounts import audit
from placement.services.alerts import engine, outbox
from placement.services.intake.rules import berlin_day
from placement.services.intake.workdays import is_working_day
from placement.services.reporting.land import land_counts, land_csv
from placement.timeutil import now as utc_now

log = logging.getLogger(__name__)


def check_alerts(app: Flask, instant: datetime | None = None) -> engine.CheckResult:
    """Run every rule once (one transaction)."""
    with app.app_context():
        try:
            result = engine.check(instant)
            db.session.commit()
            return result
        finally:
            db.session.remove()


def send_outbox(app: Flask, sender: str) -> tuple[int, int]:
    """Deliver what is due: one mail per recipient. Returns (mails sent, mails failed)."""
    with app.app_context():
        try:
            claimed = outbox.claim(sender)
            db.session.commit()
        finally:
            db.session.remove()
    sent = failed = 0
    for recipient, ids in claimed.items():
        with app.app_context():
            try:
                message = mail.compose(recipient, outbox.load(ids))
                db.session.rollback()  # nothing to keep open while the mail goes out
                try:
                    mail.send(app, message)
                except Exception as exc:  # noqa: BLE001 - any delivery error is retried
                    log.warning("mail to %s failed: %s", recipient, exc)
                    outbox.mark_failed(ids, sender, f"{type(exc).__name__}: {exc}")
                    failed += 1
                else:
                    outbox.mark_sent(ids, sender)
                    sent += 1
                db.session.commit()
            finally:
                db.session.remove()
    return sent, failed


def _department_heads() -> list[str]:
    return list(
        db.session.scalars(
            select(User.email).where(User.role == Role.DEPARTMENT_HEAD, User.active.is_(True))
        ).all()
    )


def daily_summary(app: Flask, instant: datetime | None = None) -> int:
    """To department heads, when something is firing: everything that is. Once a day."""
    with app.app_context():
        try:
            instant = instant or utc_now()
            firing = db.session.scalars(
                select(Alert)
                .where(Alert.status == AlertStatus.FIRING)
                .order_by(Alert.severity.desc(), Alert.started_at)
            ).all()
            if not firing:
                return 0
            day = berlin_day(instant)
            count = len(firing)
            stand = ngettext(
                "Stand %(day)s: %(num)d offener Hinweis.",
                "Stand %(day)s: %(num)d offene Hinweise.",
                count,
                day=day.strftime("%d.%m.%Y"),
            )
            payload = {
                "subject": ngettext(
                    "Tageszusammenfassung: %(num)d offener Hinweis",
                    "Tageszusammenfassung: %(num)d offene Hinweise",
                    count,
                ),
                "lines": [stand, *[f"- {alert_line(a.rule, a.details)}" for a in firing]],
            }
            queued = 0
            for email in _department_heads():
                key = f"summary|{day.isoformat()}|{email}"
                queued += engine.queue(key, NotificationKind.SUMMARY, email, payload)
            db.session.commit()
            return queued
        finally:
            db.session.remove()


def land_report(app: Flask, instant: datetime | None = None) -> bool:
    """The daily umA report to the Land office, on working days, once per day."""
    with app.app_context():
        try:
            instant = instant or utc_now()
            today = berlin_day(instant)
            if not is_working_day(today, app.config["HOLIDAY_SUBDIVISION"]):
                return False
            report = db.session.scalar(select(LandReport).where(LandReport.day == today))
            if report is None:
                report = LandReport(
                    day=today, counts=land_counts(audit.SYSTEM, instant), created_at=instant
                )
                db.session.add(report)
            address = app.config["LAND_REPORT_ADDRESS"]
            queued = False
            if address:
                shown = today.strftime("%d.%m.%Y")
                total = sum(sum(v.values()) for v in report.counts.values())
                payload = {
                    "subject": _("Tägliche Belegungsmeldung umA %(day)s", day=shown),
                    "lines": [
                        _(
                            "Unbegleitete Minderjährige in Obhut am %(day)s: %(n)s.",
                            day=shown,
                            n=total,
                        ),
                        _("Aufschlüsselung nach Einrichtungsart und Rechtsgrundlage im Anhang."),
                    ],
                    "attachment": {
                        "filename": f"belegungsmeldung-uma-{today.isoformat()}.csv",
                        "content": land_csv(shown, report.counts),
                    },
                }
                queued = engine.queue(
                    f"land_report|{today.isoformat()}",
                    NotificationKind.LAND_REPORT,
                    address,
                    payload,
                )
            db.session.commit()
            return queued
        finally:
            db.session.remove()


def land_report_deadline(app: Flask, instant: datetime | None = None) -> int:
    """By the deadline the day's report must have gone; else department heads hear."""
    with app.app_context():
        try:
            instant = instant or utc_now()
            today = berlin_day(instant)
            if not is_working_day(today, app.config["HOLIDAY_SUBDIVISION"]):
                return 0
            sent = db.session.scalar(
                select(Notification.id).where(
                    Notification.key == f"land_report|{today.isoformat()}",
                    Notification.status == NotificationStatus.SENT,
                )
            )
            if sent is not None:
                return 0
            shown = today.strftime("%d.%m.%Y")
            reason = (
                _("Es ist keine Adresse des Landesjugendamts eingestellt (LAND_REPORT_ADDRESS).")
                if not app.config["LAND_REPORT_ADDRESS"]
                else _("Die Meldung konnte bisher nicht zugestellt werden.")
            )
            payload = {
                "subject": _("Belegungsmeldung umA %(day)s nicht gesendet", day=shown),
                "lines": [
                    _(
                        "Die Belegungsmeldung für den %(day)s ist nicht beim Land angekommen.",
                        day=shown,
                    ),
                    reason,
                    _("Sie steht unter Berichte → Belegungsmeldung umA zum Herunterladen bereit."),
                ],
            }
            queued = sum(
                engine.queue(
                    f"land_report_reminder|{today.isoformat()}|{email}",
                    NotificationKind.LAND_REPORT_REMINDER,
                    email,
                    payload,
                    severity=2,
                )
                for email in _department_heads()
            )
            db.session.commit()
            return queued
        finally:
            db.session.remove()


def apply_retention(app: Flask, instant: datetime | None = None) -> int:
    """Remove the personal fields that are due (daily); returns the youths anonymised."""
    from placement.services.accounts import retention

    with app.app_context():
        try:
            plan = retention.apply_retention(
                audit.SCHEDULER, instant, years=int(app.config["RETENTION_PERSON_YEARS"])
            )
            db.session.commit()
            if plan.youth_ids or plan.audit_ids:
                log.info(
                    "retention: %d youths anonymised, %d audit entries erased",
                    len(plan.youth_ids),
                    len(plan.audit_ids),
                )
            return len(plan.youth_ids)
        finally:
            db.session.remove()
