"""Closed vocabularies of the domain. Values are the stable codes used in the database,
the API and the scenario format; labels are the German texts the UI shows."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Enum as SAEnum


class FacilityKind(StrEnum):
    INOBHUTNAHME = "inobhutnahme"
    CLEARING = "clearing"
    UMA_GROUP_HOME = "uma_group_home"
    GROUP_HOME = "group_home"
    FOSTER_EMERGENCY = "foster_emergency"
    EMERGENCY_SHELTER = "emergency_shelter"


class UmaPolicy(StrEnum):
    ONLY = "only"
    ALLOWED = "allowed"
    NONE = "none"


class Gender(StrEnum):
    FEMALE = "f"
    MALE = "m"
    DIVERSE = "d"


class AgeAssessment(StrEnum):
    """How reliable the date of birth is (§42f SGB VIII)."""

    DOCUMENTED = "documented"
    PENDING = "pending"
    ASSESSED_MINOR = "assessed_minor"
    ASSESSED_ADULT = "assessed_adult"


class LegalBasis(StrEnum):
    P42_1_1 = "42-1-1"
    P42_1_2 = "42-1-2"
    P42_1_3 = "42-1-3"
    P42A = "42a"
    P34 = "34"
    OTHER = "other"


class EndReason(StrEnum):
    RETURN_HOME = "return_home"
    FOLLOW_ON_HELP = "follow_on_help"
    DISTRIBUTION = "distribution"
    AGE_ASSESSMENT = "age_assessment"
    COMING_OF_AGE = "coming_of_age"
    ABSCONDED = "absconded"
    HOSPITAL = "hospital"
    TRANSFER = "transfer"
    OTHER = "other"


class PlannedEndKind(StrEnum):
    """Why a stay is planned to end on a given day (the forecast counts it out that day)."""

    HANDOVER_42B = "42b"  # hand-over after distribution (§42b)
    FOLLOW_ON = "follow_on"  # follow-on help starts
    OTHER = "other"


class Role(StrEnum):
    ON_CALL = "on_call"
    FACILITY_MANAGER = "facility_manager"
    DEPARTMENT_HEAD = "department_head"
    ADMIN = "admin"


class PlanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PROPOSED = "proposed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    APPROVED = "approved"
    EXECUTED = "executed"
    STALE = "stale"


class PlanScope(StrEnum):
    OFFICE = "office"  # every facility
    FACILITIES = "facilities"  # moves among chosen facilities only
    RELIEVE = "relieve"  # youths of one facility may move anywhere


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class NotificationKind(StrEnum):
    FIRING = "firing"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    SUMMARY = "summary"
    LAND_REPORT = "land_report"
    LAND_REPORT_REMINDER = "land_report_reminder"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class DistributionResult(StrEnum):
    """How the §42a distribution ended (it stops the §42a clock)."""

    ASSIGNED_LAND = "assigned_land"  # a Land was named
    ASSIGNED_OFFICE = "assigned_office"  # an office was named
    EXCLUDED_WELFARE = "excluded_welfare"
    EXCLUDED_HEALTH = "excluded_health"
    EXCLUDED_FAMILY = "excluded_family"  # family reunion
    EXCLUDED_DEADLINE = "excluded_deadline"  # not done within a month


class DeadlineKind(StrEnum):
    """Deadlines computed for a stay (never stored)."""

    REPORT_42A = "42a_report"
    DISTRIBUTION_EXCLUDED = "42a_excluded"
    COMING_OF_AGE = "adult"
    LONG_EMERGENCY_STAY = "emergency_3m"


# (code, German label) pairs. Not a dict keyed by the codes: StrEnum members of different
# vocabularies with the same value (LegalBasis.OTHER, EndReason.OTHER) are equal keys.
LABELS: list[tuple[StrEnum, object]] = [
    (FacilityKind.INOBHUTNAHME, _l("Inobhutnahmestelle")),
    (FacilityKind.CLEARING, _l("Clearingeinrichtung")),
    (FacilityKind.UMA_GROUP_HOME, _l("umA-Wohngruppe")),
    (FacilityKind.GROUP_HOME, _l("Wohngruppe")),
    (FacilityKind.FOSTER_EMERGENCY, _l("Bereitschaftspflege")),
    (FacilityKind.EMERGENCY_SHELTER, _l("Notunterkunft")),
    (UmaPolicy.ONLY, _l("nur umA")),
    (UmaPolicy.ALLOWED, _l("umA möglich")),
    (UmaPolicy.NONE, _l("keine umA")),
    (Gender.FEMALE, _l("weiblich")),
    (Gender.MALE, _l("männlich")),
    (Gender.DIVERSE, _l("divers")),
    (AgeAssessment.DOCUMENTED, _l("Geburtsdatum belegt")),
    (AgeAssessment.PENDING, _l("Alterseinschätzung offen")),
    (AgeAssessment.ASSESSED_MINOR, _l("eingeschätzt: minderjährig")),
    (AgeAssessment.ASSESSED_ADULT, _l("eingeschätzt: volljährig")),
    (LegalBasis.P42_1_1, _l("§ 42 Abs. 1 Nr. 1 (auf eigenen Wunsch)")),
    (LegalBasis.P42_1_2, _l("§ 42 Abs. 1 Nr. 2 (dringende Gefahr)")),
    (LegalBasis.P42_1_3, _l("§ 42 Abs. 1 Nr. 3 (unbegleitet eingereist)")),
    (LegalBasis.P42A, _l("§ 42a (vorläufige Inobhutnahme)")),
    (LegalBasis.P34, _l("§ 34 (Heimerziehung)")),
    (LegalBasis.OTHER, _l("sonstige")),
    (EndReason.RETURN_HOME, _l("Rückführung zu den Sorgeberechtigten")),
    (EndReason.FOLLOW_ON_HELP, _l("Anschlusshilfe (§ 34 / § 33 / § 35a)")),
    (EndReason.DISTRIBUTION, _l("Übergabe nach Verteilung (§ 42b)")),
    (EndReason.AGE_ASSESSMENT, _l("Ende nach Alterseinschätzung (volljährig)")),
    (EndReason.COMING_OF_AGE, _l("Volljährigkeit")),
    (EndReason.ABSCONDED, _l("abgängig")),
    (EndReason.HOSPITAL, _l("Krankenhaus / Psychiatrie")),
    (EndReason.TRANSFER, _l("Verlegung in andere Einrichtung")),
    (EndReason.OTHER, _l("sonstiger Grund")),
    (PlannedEndKind.HANDOVER_42B, _l("Übergabe nach §42b")),
    (PlannedEndKind.FOLLOW_ON, _l("Anschlusshilfe ab")),
    (PlannedEndKind.OTHER, _l("Sonstiges")),
    (Role.ON_CALL, _l("Bereitschaftsdienst")),
    (Role.FACILITY_MANAGER, _l("Einrichtungsleitung")),
    (Role.DEPARTMENT_HEAD, _l("Abteilungsleitung")),
    (Role.ADMIN, _l("Administration")),
    (PlanStatus.QUEUED, _l("wartet")),
    (PlanStatus.RUNNING, _l("wird berechnet")),
    (PlanStatus.PROPOSED, _l("Vorschlag")),
    (PlanStatus.FAILED, _l("fehlgeschlagen")),
    (PlanStatus.CANCELLED, _l("abgebrochen")),
    (PlanStatus.APPROVED, _l("genehmigt")),
    (PlanStatus.EXECUTED, _l("ausgeführt")),
    (PlanStatus.STALE, _l("veraltet")),
    (PlanScope.OFFICE, _l("ganzes Jugendamt")),
    (PlanScope.FACILITIES, _l("ausgewählte Einrichtungen")),
    (PlanScope.RELIEVE, _l("eine Einrichtung entlasten")),
    (AlertStatus.FIRING, _l("aktiv")),
    (AlertStatus.RESOLVED, _l("erledigt")),
    (NotificationStatus.PENDING, _l("wartet")),
    (NotificationStatus.SENT, _l("gesendet")),
    (NotificationStatus.DEAD, _l("nicht zustellbar")),
    (DistributionResult.ASSIGNED_LAND, _l("Land zugewiesen")),
    (DistributionResult.ASSIGNED_OFFICE, _l("Jugendamt zugewiesen")),
    (DistributionResult.EXCLUDED_WELFARE, _l("ausgeschlossen: Kindeswohl")),
    (DistributionResult.EXCLUDED_HEALTH, _l("ausgeschlossen: Gesundheit")),
    (DistributionResult.EXCLUDED_FAMILY, _l("ausgeschlossen: Familienzusammenführung")),
    (DistributionResult.EXCLUDED_DEADLINE, _l("ausgeschlossen: Frist abgelaufen")),
    (DeadlineKind.REPORT_42A, _l("Meldung zur Verteilung (§ 42a)")),
    (DeadlineKind.DISTRIBUTION_EXCLUDED, _l("Verteilung ausgeschlossen ab (§ 42a)")),
    (DeadlineKind.COMING_OF_AGE, _l("Volljährigkeit")),
    (DeadlineKind.LONG_EMERGENCY_STAY, _l("Notaufnahme länger als 3 Monate")),
]
_BY_CODE = {(type(code), code.value): text for code, text in LABELS}
_BY_VALUE: dict[str, object] = {}
for _code, _text in LABELS:
    _BY_VALUE.setdefault(_code.value, _text)


def label(value: StrEnum) -> str:
    """The German label of a code, for templates and forms."""
    if isinstance(value, StrEnum):
        return str(_BY_CODE.get((type(value), value.value), value))
    return str(_BY_VALUE.get(value, value))  # a bare code: its first vocabulary


def choices(enum_cls: type[StrEnum]) -> list[tuple[str, str]]:
    """(code, label) pairs for a select field."""
    return [(member.value, label(member)) for member in enum_cls]


def db_enum(enum_cls: type[StrEnum], name: str) -> SAEnum:
    """A portable enum column: VARCHAR plus a CHECK constraint holding the codes."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
