"""Occupancy: the pure capacity core (``core``), the queries that feed it (``queries``),
the capacity periods (``capacity``) and the locks taken before capacity decisions."""
