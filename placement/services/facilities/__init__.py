"""Facility administration: profiles, opening and closing, and confirmed occupancy.

Places (capacity periods) are changed through ``services.occupancy.capacity``; both go
through ``permissions.require_facility``, so that a facility manager acts only on the
facilities assigned to the account, and administrators on all."""
