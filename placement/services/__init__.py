"""Business operations. Services take primitives and ids, only ``flush()``, write an audit
entry for every change, and raise PlacementError subclasses; the caller (view, CLI command
or job) commits once."""
