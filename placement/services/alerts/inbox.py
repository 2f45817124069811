"""The in-app side of alerts: the inbox with acknowledgement, silences, and the rules'
thresholds (office-wide and per facility)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from placement.extensions import db
from placement.models import Alert, AlertSetting, Facility, Silence, Stay
from placement.models.enums import AlertStatus
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.alerts.rules import RULES
from placement.services.errors import BadInput, Code, NotFound, RuleViolation
from placement.services.forecast import MAX_DAYS
from placement.services.intake.rules import reason_text
from placement.timeutil import now as utc_now

MAX_SILENCE = timedelta(days=90)
RECENT = timedelta(days=7)


def inbox(actor: audit.Actor, instant: datetime | None = None) -> list[Alert]:
    """Firing alerts, most severe first (the furthest over first among over-occupancies),
    then those resolved in the last week."""
    permissions.require(actor.role, Permission.ALERTS)
    instant = instant or utc_now()
    firing = sorted(
        db.session.scalars(select(Alert).where(Alert.status == AlertStatus.FIRING)).all(),
        key=lambda a: (-a.severity, -int(a.details.get("over_by", 0)), a.started_at),
    )
    resolved = db.session.scalars(
        select(Alert)
        .where(Alert.status == AlertStatus.RESOLVED, Alert.resolved_at > instant - RECENT)
        .order_by(Alert.resolved_at.desc())
        .limit(100)
    ).all()
    return [*firing, *resolved]


def acknowledge(actor: audit.Actor, alert_id: int) -> Alert:
    """Someone has seen it and takes care (who and when are kept with the episode)."""
    permissions.require(actor.role, Permission.ALERTS)
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(Code.UNKNOWN_ALERT, "alert_id")
    alert.acknowledged_by_id = actor.user_id
    alert.acknowledged_at = utc_now()
    audit.record(actor, "alert.acknowledge", alert, after={"episode": alert.episode})
    return alert


def active_silences(actor: audit.Actor, instant: datetime | None = None) -> list[Silence]:
    permissions.require(actor.role, Permission.ALERTS)
    instant = instant or utc_now()
    return list(
        db.session.scalars(
            select(Silence)
            .where(Silence.expires_at > instant, Silence.ended_at.is_(None))
            .order_by(Silence.expires_at)
        ).all()
    )


def silence(
    actor: audit.Actor,
    *,
    rule: str | None,
    facility_id: int | None = None,
    stay_id: int | None = None,
    reason: str | None,
    hours: int | None,
) -> Silence:
    """No notifications for ``rule`` (None: every rule) about a facility or a stay for
    ``hours``; the alerts are still shown in the inbox."""
    permissions.require(actor.role, Permission.MANAGE_ALERTS)
    if rule:
        code_of_rule(rule)
    if (facility_id is None) == (stay_id is None):
        raise BadInput(Code.SILENCE_NEEDS_SUBJECT, "facility_id")
    if facility_id is not None and db.session.get(Facility, facility_id) is None:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    if stay_id is not None and db.session.get(Stay, stay_id) is None:
        raise NotFound(Code.UNKNOWN_STAY, "stay_id")
    why = reason_text(reason, "reason")
    if why is None:
        raise RuleViolation(Code.SILENCE_REASON_REQUIRED, "reason")
    if hours is None or not 1 <= hours <= MAX_SILENCE.total_seconds() // 3600:
        raise RuleViolation(Code.EXPIRY_REQUIRED, "hours")
    instant = utc_now()
    created = Silence(
        rule=rule or None,
        facility_id=facility_id,
        stay_id=stay_id,
        reason=why,
        expires_at=instant + timedelta(hours=hours),
        created_by_id=actor.user_id,
        created_at=instant,
    )
    db.session.add(created)
    audit.record(actor, "silence.create", created, after=audit.snapshot(created))
    return created


def end_silence(actor: audit.Actor, silence_id: int) -> Silence:
    permissions.require(actor.role, Permission.MANAGE_ALERTS)
    found = db.session.get(Silence, silence_id)
    if found is None:
        raise NotFound(Code.UNKNOWN_SILENCE, "silence_id")
    found.ended_at = utc_now()
    audit.record(actor, "silence.end", found)
    return found


def code_of_rule(rule: str) -> str:
    if rule not in RULES:
        raise RuleViolation(Code.UNKNOWN_VALUE, "rule", allowed=", ".join(RULES))
    return rule


# --- thresholds -----------------------------------------------------------------------------

EDITABLE: dict[str, dict[str, tuple[type, float, float]]] = {
    # rule -> parameter -> (type, lowest, highest)
    "near_full": {"share": (float, 0.5, 1.0)},
    "forecast_over": {"days": (int, 1, MAX_DAYS), "probability": (float, 0.1, 0.99)},
    "no_place_for_profile": {"threshold": (int, 0, 50)},
    "report_42a": {"warn_working_days": (int, 0, 6)},
    "distribution_42a": {"warn_days": (int, 0, 14)},
    "coming_of_age": {"days": (int, 1, 180)},
    "long_stay": {"days": (int, 7, 730)},
    "ceiling_expiring": {"days": (int, 1, 60)},
}


def settings(actor: audit.Actor) -> dict[tuple[str, int | None], dict[str, Any]]:
    """The stored thresholds, by (rule, facility id or None for office-wide)."""
    permissions.require(actor.role, Permission.ALERTS)
    return {(s.rule, s.facility_id): s.params for s in db.session.scalars(select(AlertSetting))}


def set_threshold(
    actor: audit.Actor,
    rule: str,
    *,
    facility_id: int | None = None,
    enabled: bool | None = None,
    **values: Any,
) -> AlertSetting:
    """Change a rule's thresholds office-wide or for one facility (audited)."""
    permissions.require(actor.role, Permission.MANAGE_ALERTS)
    code_of_rule(rule)
    if facility_id is not None and db.session.get(Facility, facility_id) is None:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    params: dict[str, Any] = {}
    if enabled is not None:
        params["enabled"] = bool(enabled)
    for name, value in values.items():
        if value is None:
            continue
        if name not in EDITABLE.get(rule, {}):
            raise RuleViolation(Code.UNKNOWN_VALUE, name, allowed=", ".join(EDITABLE.get(rule, {})))
        kind, lowest, highest = EDITABLE[rule][name]
        if not lowest <= value <= highest:
            raise RuleViolation(Code.OUT_OF_RANGE, name, max=highest)
        params[name] = kind(value)
    setting = db.session.scalar(
        select(AlertSetting).where(
            AlertSetting.rule == rule, AlertSetting.facility_id == facility_id
        )
        if facility_id is not None
        else select(AlertSetting).where(
            AlertSetting.rule == rule, AlertSetting.facility_id.is_(None)
        )
    )
    before = dict(setting.params) if setting else {}
    if setting is None:
        setting = AlertSetting(rule=rule, facility_id=facility_id, params={})
        db.session.add(setting)
    setting.params = {**before, **params}
    setting.updated_by_id = actor.user_id
    audit.record(actor, "alert_setting.update", setting, before=before, after=setting.params)
    return setting
