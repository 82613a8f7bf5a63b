"""knowledge question log and unanswered list

Revision ID: 0002_knowledge
Revises: 0001_core
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models.base

revision: str = "0002_knowledge"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = ("knowledge",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("top_entry_id", sa.String(length=128), nullable=True),
        sa.Column("hits", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("chosen_entry_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("staff_answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", storage.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_knowledge_questions_conversation_id_conversations")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_knowledge_questions_customer_id_customers")),
        sa.ForeignKeyConstraint(["answered_by"], ["staff_users.id"], name=op.f("fk_knowledge_questions_answered_by_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_questions")),
    )
    op.create_index(op.f("ix_knowledge_questions_conversation_id"), "knowledge_questions", ["conversation_id"])
    op.create_index(op.f("ix_knowledge_questions_customer_id"), "knowledge_questions", ["customer_id"])
    op.create_index("ix_knowledge_questions_status_created", "knowledge_questions", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_questions_status_created", table_name="knowledge_questions")
    op.drop_index(op.f("ix_knowledge_questions_customer_id"), table_name="knowledge_questions")
    op.drop_index(op.f("ix_knowledge_questions_conversation_id"), table_name="knowledge_questions")
    op.drop_table("knowledge_questions")
