"""Reporting: the overview board, the facility page, Stichtag and monthly reports, charts.
Counts only, except the residents of a facility page (asked for explicitly)."""
