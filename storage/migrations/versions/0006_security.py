"""security: counters behind limits and lockouts, the staff session epoch

Revision ID: 0006_security
Revises: 0001_core
Create Date: 2026-12-01 21:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models.base

revision: str = '0006_security'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('security',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('limit_counters',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('window_start', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', storage.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.add_column('staff_users', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('session_epoch')
    op.drop_table('limit_counters')
