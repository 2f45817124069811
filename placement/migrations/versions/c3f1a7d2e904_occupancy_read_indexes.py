"""indexes for the occupancy board, facility pages and reports

- (end_at, start_at, facility_id): covering index for "open at t" counts, answered from the
  few stays still open (end_at IS NULL) plus those ending after t, not from all history;
- (facility_id, end_at) and (facility_id, updated_at): per-facility MAX() for "last changed"
  as index seeks instead of scans of each facility's stays;
- (place_held_until): places held after an absconding at t without a table scan.

Revision ID: c3f1a7d2e904
Revises: 90a381ae98de
Create Date: 2026-11-21 16:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "c3f1a7d2e904"
down_revision = "90a381ae98de"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stay", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stay_end_start_facility", ["end_at", "start_at", "facility_id"], unique=False
        )
        batch_op.create_index("ix_stay_facility_end", ["facility_id", "end_at"], unique=False)
        batch_op.create_index(
            "ix_stay_facility_updated", ["facility_id", "updated_at"], unique=False
        )
        batch_op.create_index(
            "ix_stay_place_held_until", ["place_held_until", "end_at", "facility_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("stay", schema=None) as batch_op:
        batch_op.drop_index("ix_stay_place_held_until")
        batch_op.drop_index("ix_stay_facility_updated")
        batch_op.drop_index("ix_stay_facility_end")
        batch_op.drop_index("ix_stay_end_start_facility")
