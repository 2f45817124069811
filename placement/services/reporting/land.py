"""The daily umA report for the Land office (tägliche Belegungsmeldung): counts of
unaccompanied minors in the office's care by facility kind and legal basis. No persons."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Facility, Stay, Youth
from placement.models.enums import FacilityKind, LegalBasis, label
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.occupancy.queries import stays_covering
from placement.services.reporting.downloads import csv_cell

Counts = dict[str, dict[str, int]]  # facility kind -> legal basis -> youths


def land_counts(actor: audit.Actor, instant: datetime) -> Counts:
    """umA placed at ``instant`` by facility kind and legal basis."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    rows = db.session.execute(
        select(Facility.kind, Stay.legal_basis, func.count())
        .join(Stay, Stay.facility_id == Facility.id)
        .join(Youth, Youth.id == Stay.youth_id)
        .where(Youth.uma.is_(True), stays_covering(instant))
        .group_by(Facility.kind, Stay.legal_basis)
    ).all()
    counts: Counts = defaultdict(dict)
    for kind, basis, count in rows:
        counts[FacilityKind(kind).value][LegalBasis(basis).value] = count
    return dict(counts)


def land_table(counts: Counts) -> tuple[list[str], list[list[object]]]:
    """Header and rows (one per facility kind, the total last)."""
    bases = list(LegalBasis)
    headers = ["Einrichtungsart", *[label(b) for b in bases], "Gesamt"]
    rows: list[list[object]] = []
    for kind in FacilityKind:
        values = [counts.get(kind.value, {}).get(b.value, 0) for b in bases]
        rows.append([label(kind), *values, sum(values)])
    totals = [sum(row[i + 1] for row in rows) for i in range(len(bases))]
    rows.append(["Gesamt", *totals, sum(totals)])
    return headers, rows


def land_csv(day: str, counts: Counts) -> str:
    """Semicolon-separated with the day in the first column, as office software reads it."""
    headers, rows = land_table(counts)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_cell(v) for v in ["Stichtag", *headers]])
    for row in rows:
        writer.writerow([csv_cell(v) for v in [day, *row]])
    return buffer.getvalue()
