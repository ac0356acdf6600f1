"""action effects learned from the store (outreach.effects), with intervals and support;
shadow actions: what the plan would have given holdout candidates

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_effects",
        sa.Column("effect_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learned_on", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=False),
        sa.Column("effect", sa.Float(), nullable=True),
        sa.Column("effect_low", sa.Float(), nullable=True),
        sa.Column("effect_high", sa.Float(), nullable=True),
        sa.Column("abs_effect", sa.Float(), nullable=True),
        sa.Column("abs_low", sa.Float(), nullable=True),
        sa.Column("abs_high", sa.Float(), nullable=True),
        sa.Column("assumed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("treated_candidates", sa.Integer(), nullable=False),
        sa.Column("treated_units", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("effect_id"),
        sa.UniqueConstraint("learned_on", "action", "segment", name="uq_action_effects_day"),
    )
    op.create_index("ix_action_effects_learned_on", "action_effects", ["learned_on"])
    op.create_table(
        "shadow_actions",
        sa.Column("shadow_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("hr_owner", sa.String(length=64), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("content_id", sa.String(length=64), nullable=True),
        sa.Column("risk", sa.Float(), nullable=True),
        sa.Column("expected_benefit", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("shadow_id"),
    )
    op.create_index("ix_shadow_actions_candidate_id", "shadow_actions", ["candidate_id"])
    op.create_index("ix_shadow_actions_plan_date", "shadow_actions", ["plan_date"])


def downgrade() -> None:
    op.drop_index("ix_shadow_actions_plan_date", table_name="shadow_actions")
    op.drop_index("ix_shadow_actions_candidate_id", table_name="shadow_actions")
    op.drop_table("shadow_actions")
    op.drop_index("ix_action_effects_learned_on", table_name="action_effects")
    op.drop_table("action_effects")
