"""Business operations, one package per domain. Services take primitives, ids and request
values, only ``flush()``, write an audit entry for every change, and raise the coded errors
of ``services.errors``; the caller (view, API endpoint, CLI command or job) commits once.

Layers, lowest first; a package imports only those below it:
``errors`` < ``accounts`` < ``occupancy`` < ``intake`` < ``planning`` < ``reporting``
< ``alerts`` < ``seed``."""
