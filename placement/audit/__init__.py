"""The audit trail for department heads and admins: filters, pages, CSV export."""

from placement.audit.routes import bp

__all__ = ["bp"]
