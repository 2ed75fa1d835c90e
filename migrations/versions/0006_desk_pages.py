"""desk pages (issue 11): the sent issues' tallies, and indexes for the desk's figures

The weekly series counts confirmations and unsubscribes by week, and bounces and complaints by
week from the provider's marks; the issue figures count an issue's copies by status. Each of
those reads an index range instead of the whole table.

Revision ID: 0006_desk_pages
Revises: 0005_desk (chained after desk-core's schema; see the merge)
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import digest.db

revision: str = "0006_desk_pages"
down_revision: str | None = "0005_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issue_tally",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("complained", sa.Integer(), nullable=False),
        sa.Column("unsubscribed", sa.Integer(), nullable=False),
        sa.Column("counted_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issue.id"], name=op.f("fk_issue_tally_issue_id_issue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_tally")),
    )
    op.create_index("ix_subscriber_confirmed_at", "subscriber", ["confirmed_at"])
    op.create_index("ix_subscriber_unsubscribed_at", "subscriber", ["unsubscribed_at"])
    op.create_index("ix_subscriber_name_lower", "subscriber", [sa.text("lower(name)")])
    op.create_index("ix_delivery_issue_status", "delivery", ["issue_id", "status"])
    op.create_index("ix_delivery_mark_event_at", "delivery_mark", ["event", "at"])


def downgrade() -> None:
    op.drop_table("issue_tally")
    op.drop_index("ix_delivery_mark_event_at", table_name="delivery_mark")
    op.drop_index("ix_delivery_issue_status", table_name="delivery")
    op.drop_index("ix_subscriber_unsubscribed_at", table_name="subscriber")
    op.drop_index("ix_subscriber_name_lower", table_name="subscriber")
    op.drop_index("ix_subscriber_confirmed_at", table_name="subscriber")
