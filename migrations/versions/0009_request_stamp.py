"""request stamp (issue 14, goal 1): a stored reader request keeps the form stamp it carried,
spent when the request is acted on, so the visitor's request writes only itself

Revision ID: 0009_request_stamp
Revises: 0008_clicks
Create Date: 2026-12-02 10:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401  (autogenerate writes its AutoString)
from alembic import op


revision: str = '0009_request_stamp'
down_revision: str | None = "0008_clicks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows stored before this were judged and spent when they came: NULL skips the spend.
    with op.batch_alter_table('reader_request', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('form_stamp', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('reader_request', schema=None) as batch_op:
        batch_op.drop_column('form_stamp')
