"""Intake: the place finder, admissions, reservations, stays and youth records."""
