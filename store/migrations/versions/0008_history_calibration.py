"""profile history (point-in-time profiles) and in-season calibration checks

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# store.contract.EARLIEST: a candidate's first known profile holds from the start.
EARLIEST = "1990-01-01"
COLUMNS = (
    "school_tier",
    "major",
    "degree",
    "role_family",
    "work_city",
    "home_city",
    "start_date",
)


def upgrade() -> None:
    op.create_table(
        "profile_history",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("known_from", sa.Date(), nullable=False),
        sa.Column("school_tier", sa.SmallInteger(), nullable=True),
        sa.Column("major", sa.String(length=200), nullable=True),
        sa.Column("degree", sa.String(length=16), nullable=True),
        sa.Column("role_family", sa.String(length=64), nullable=True),
        sa.Column("work_city", sa.String(length=100), nullable=True),
        sa.Column("home_city", sa.String(length=100), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("version_id"),
    )
    op.create_index(
        "ix_profile_history_candidate", "profile_history", ["candidate_id", "known_from"]
    )
    # A store from before keeps what it holds now as each candidate's first version:
    # earlier versions were overwritten and are gone.
    cols = ", ".join(COLUMNS)
    op.execute(
        f"INSERT INTO profile_history (candidate_id, known_from, {cols}, recorded_at, batch_id) "
        f"SELECT candidate_id, '{EARLIEST}', {cols}, updated_at, batch_id FROM candidates"
    )
    op.create_table(
        "calibration_checks",
        sa.Column("check_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column("cohort", sa.Integer(), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("ratio_low", sa.Float(), nullable=True),
        sa.Column("ratio_high", sa.Float(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("shift", sa.Float(), nullable=False),
        sa.Column("expected_shifted", sa.Float(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("check_id"),
    )
    op.create_index("ix_calibration_checks_model", "calibration_checks", ["model_version", "as_of"])


def downgrade() -> None:
    op.drop_index("ix_calibration_checks_model", table_name="calibration_checks")
    op.drop_table("calibration_checks")
    op.drop_index("ix_profile_history_candidate", table_name="profile_history")
    op.drop_table("profile_history")
