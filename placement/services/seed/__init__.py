"""Seeding: the demo, synthetic benchmark data and the scenario import."""
