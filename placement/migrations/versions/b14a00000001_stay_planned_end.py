"""planned end of a stay (forecast, issue #14)

Revision ID: b14a00000001
Revises: b13a00000002
Create Date: 2026-12-01 18:30:00

A stay may carry the local day it is planned to end (hand-over after §42b, follow-on
help from ...) and why; the forecast counts the youth out on that day."""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b14a00000001'
down_revision = 'b13a00000002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stay', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_end_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('planned_end_kind', sa.Enum('42b', 'follow_on', 'other', name='planned_end_kind', native_enum=False, create_constraint=True, length=32), nullable=True))
        batch_op.add_column(sa.Column('planned_end_recorded_at', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            'planned_end_kind_with_date', 'planned_end_kind IS NULL OR planned_end_on IS NOT NULL'
        )


def downgrade():
    with op.batch_alter_table('stay', schema=None) as batch_op:
        batch_op.drop_constraint('planned_end_kind_with_date', type_='check')
        # The enum's own CHECK (ck_stay_planned_end_kind): SQLite's batch copy would keep
        # it, naming the dropped column, and fail with "no such column".
        batch_op.drop_constraint('planned_end_kind', type_='check')
        batch_op.drop_column('planned_end_recorded_at')
        batch_op.drop_column('planned_end_kind')
        batch_op.drop_column('planned_end_on')
