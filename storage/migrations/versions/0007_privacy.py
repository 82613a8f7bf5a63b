"""privacy: the record of customer data exports and erasures

Revision ID: 0007_privacy
Revises: 0001_core
Create Date: 2026-12-01 22:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models.base

revision: str = '0007_privacy'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('privacy',)
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table('customer_data_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('identity', sa.String(length=200), nullable=False),
    sa.Column('customer_ids', JSON, nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('created_at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_data_requests'))
    )
    with op.batch_alter_table('customer_data_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_data_requests_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_data_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_data_requests_created_at'))
    op.drop_table('customer_data_requests')
