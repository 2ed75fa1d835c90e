"""desk pages (issue 11): indexes for the editor's desk figures

The weekly series counts confirmations and unsubscribes by week, and bounces and complaints by
week from the provider's marks; the issue figures count an issue's copies by status. Each of
those reads an index range instead of the whole table.

Revision ID: 0006_desk_pages
Revises: 0005_desk (chained after desk-core's schema; see the merge)
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006_desk_pages"
down_revision: str | None = "0005_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscriber_confirmed_at", "subscriber", ["confirmed_at"])
    op.create_index("ix_subscriber_unsubscribed_at", "subscriber", ["unsubscribed_at"])
    op.create_index("ix_delivery_issue_status", "delivery", ["issue_id", "status"])
    op.create_index("ix_delivery_mark_event_at", "delivery_mark", ["event", "at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_mark_event_at", table_name="delivery_mark")
    op.drop_index("ix_delivery_issue_status", table_name="delivery")
    op.drop_index("ix_subscriber_unsubscribed_at", table_name="subscriber")
    op.drop_index("ix_subscriber_confirmed_at", table_name="subscriber")
