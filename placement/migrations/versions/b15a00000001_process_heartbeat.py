"""process heartbeats (health checks, issue #15)

Revision ID: b15a00000001
Revises: b14a00000001
Create Date: 2026-12-01 22:10:00

One row per kind of background process (the plan worker), written every few seconds by
whichever of them beats; /healthz?deep=1 reports its age."""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b15a00000001'
down_revision = 'b14a00000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process_heartbeat',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_process_heartbeat'))
    )


def downgrade():
    op.drop_table('process_heartbeat')
