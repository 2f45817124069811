"""Typed SQLAlchemy models. Importing this package registers every table."""

from placement.models.alert import (
    Alert,
    AlertSetting,
    LandReport,
    Notification,
    ProcessLease,
    Silence,
)
from placement.models.audit import AuditEvent
from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.facility import CapacityPeriod, Facility
from placement.models.plan import Plan, PlanScope, PlanStatus
from placement.models.process import ProcessHeartbeat
from placement.models.reservation import OverOccupancyEvent, Reservation, ReservationStatus
from placement.models.stay import FormSubmission, Stay
from placement.models.user import LoginThrottle, User, UserSession, user_facility
from placement.models.youth import Youth, youth_exclusion

__all__ = [
    "Alert",
    "AlertSetting",
    "AuditEvent",
    "LandReport",
    "Notification",
    "ProcessHeartbeat",
    "ProcessLease",
    "Silence",
    "Base",
    "CapacityPeriod",
    "Facility",
    "FormSubmission",
    "OverOccupancyEvent",
    "Plan",
    "PlanScope",
    "PlanStatus",
    "Reservation",
    "ReservationStatus",
    "Stay",
    "UTCDateTime",
    "LoginThrottle",
    "User",
    "UserSession",
    "Youth",
    "utcnow",
    "youth_exclusion",
    "user_facility",
]
