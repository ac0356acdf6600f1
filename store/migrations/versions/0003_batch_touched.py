"""ingest batches name the candidates a small write touched

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Serving processes read it to refresh just those candidates; NULL for a whole bundle.
    with op.batch_alter_table("ingest_batches") as batch:
        batch.add_column(sa.Column("touched", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_batches") as batch:
        batch.drop_column("touched")
