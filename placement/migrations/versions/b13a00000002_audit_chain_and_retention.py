"""tamper-evident audit chain and retention

Revision ID: b13a00000002
Revises: b13a00000001
Create Date: 2026-12-01 16:51:00

Existing audit rows are sealed in id order (the chain's protocol is in
placement.services.accounts.audit; this migration calls it so that there is one
definition of an entry's hash)."""
from datetime import UTC
from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b13a00000002'
down_revision = 'b13a00000001'
branch_labels = None
depends_on = None


def _seal_existing(connection) -> None:
    import secrets

    from placement.services.accounts.audit import entry_hash, personal_paths

    audit = sa.table(
        'audit_event',
        sa.column('id', sa.Integer()),
        sa.column('at', sa.DateTime()),
        sa.column('user_id', sa.Integer()),
        sa.column('actor', sa.String()),
        sa.column('action', sa.String()),
        sa.column('object_type', sa.String()),
        sa.column('object_id', sa.Integer()),
        sa.column('before', sa.JSON()),
        sa.column('after', sa.JSON()),
        sa.column('reason', sa.String()),
        sa.column('seq', sa.Integer()),
        sa.column('prev_hash', sa.String()),
        sa.column('hash', sa.String()),
        sa.column('salt', sa.String()),
    )
    prev, seq, last_id = None, 0, 0
    while True:
        rows = connection.execute(
            sa.select(audit).where(audit.c.id > last_id).order_by(audit.c.id).limit(1000)
        ).all()
        if not rows:
            return
        for row in rows:
            seq += 1
            salt = secrets.token_hex(16) if personal_paths(row.before, row.after, row.reason) else None
            entry = SimpleNamespace(
                **row._asdict(), erased=None
            )
            entry.at = row.at.replace(tzinfo=UTC)
            entry.seq, entry.prev_hash, entry.salt = seq, prev, salt
            digest = entry_hash(entry)
            connection.execute(
                audit.update()
                .where(audit.c.id == row.id)
                .values(seq=seq, prev_hash=prev, hash=digest, salt=salt)
            )
            prev = digest
        last_id = rows[-1].id


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('erased', sa.JSON(), nullable=True))
        batch_op.create_index('ix_audit_event_user_at', ['user_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_event_action_at', ['action', 'at'], unique=False)

    with op.batch_alter_table('youth', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(), nullable=True))

    _seal_existing(op.get_bind())

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_event_seq'), ['seq'])


def downgrade():
    with op.batch_alter_table('youth', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_event_seq'), type_='unique')
        batch_op.drop_index('ix_audit_event_action_at')
        batch_op.drop_index('ix_audit_event_user_at')
        batch_op.drop_column('erased')
        batch_op.drop_column('salt')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
