"""labels: staff labels of questions (which entry answers them, or none) for learning

Revision ID: 0008_labels
Revises: 0001_core
Create Date: 2026-12-01 23:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models.base

revision: str = '0008_labels'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('labels',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('knowledge_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('entry_id', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_knowledge_labels_staff_id_staff_users')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_knowledge_labels_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_labels'))
    )
    with op.batch_alter_table('knowledge_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_labels_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_labels_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_labels_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('knowledge_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_labels_customer_id'))
        batch_op.drop_index(batch_op.f('ix_knowledge_labels_staff_id'))
        batch_op.drop_index(batch_op.f('ix_knowledge_labels_created_at'))
    op.drop_table('knowledge_labels')
