"""outreach actions: the plan's order and urgency, who is not planned and why, call outcomes

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outreach_actions") as batch:
        batch.add_column(sa.Column("place", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outreach_actions") as batch:
        batch.drop_column("note")
        batch.drop_column("outcome")
        batch.drop_column("urgent")
        batch.drop_column("place")
