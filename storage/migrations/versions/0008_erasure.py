"""erasure: customers' requests, made in chat, to delete their data

Revision ID: 0008_erasure
Revises: 0001_core
Create Date: 2026-12-02 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models.base

revision: str = '0008_erasure'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('erasure',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erasure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', storage.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_requests'))
    )
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_requests_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_erasure_requests_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('erasure_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_requests_status'))
        batch_op.drop_index(batch_op.f('ix_erasure_requests_created_at'))
    op.drop_table('erasure_requests')
