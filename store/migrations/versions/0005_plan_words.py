"""outreach actions: the reason in English too, and the risk the plan saw

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outreach_actions") as batch:
        batch.add_column(sa.Column("reason_en", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("risk", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outreach_actions") as batch:
        batch.drop_column("risk")
        batch.drop_column("reason_en")
