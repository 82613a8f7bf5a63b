"""staff topics: the staff room's thread per customer, and staff members' platform accounts

Revision ID: 0008_staff_topics
Revises: 0001_core
Create Date: 2026-12-01 23:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models.base

revision: str = '0008_staff_topics'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = ('staff_topics',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.String(length=64), nullable=True),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_staff_topics_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_staff_topics_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_topics')),
    sa.UniqueConstraint('room', 'customer_id', name=op.f('uq_staff_topics_room_customer_id')),
    sa.UniqueConstraint('room', 'thread_id', name=op.f('uq_staff_topics_room_thread_id'))
    )
    op.create_table('staff_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('platform_user_id', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], ondelete='CASCADE',
                            name=op.f('fk_staff_links_staff_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_links')),
    sa.UniqueConstraint('platform', 'platform_user_id', name=op.f('uq_staff_links_platform_platform_user_id')),
    sa.UniqueConstraint('platform', 'staff_id', name=op.f('uq_staff_links_platform_staff_id'))
    )


def downgrade() -> None:
    op.drop_table('staff_links')
    op.drop_table('staff_topics')
