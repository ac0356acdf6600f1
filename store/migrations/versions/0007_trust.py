"""audit log (append-only, enforced by triggers), tombstones of erased ids, tier overrides

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The legal floor (EU AI Act art. 19/26: at least six months). store.audit.MIN_KEEP_DAYS
# holds the same number; a migration must not import application code that may change.
KEEP_DAYS = 183

SQLITE = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    f"""CREATE TRIGGER audit_log_keep BEFORE DELETE ON audit_log
    WHEN old.at > datetime('now', '-{KEEP_DAYS} days')
    BEGIN SELECT RAISE(ABORT, 'audit entries are kept at least {KEEP_DAYS} days'); END""",
]
POSTGRES = [
    f"""CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' OR TG_OP = 'TRUNCATE' THEN
            RAISE EXCEPTION 'audit_log is append-only';
        END IF;
        IF OLD.at > (now() AT TIME ZONE 'utc') - interval '{KEEP_DAYS} days' THEN
            RAISE EXCEPTION 'audit entries are kept at least {KEEP_DAYS} days';
        END IF;
        RETURN OLD;
    END $$""",
    """CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard()""",
]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("subjects", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])
    op.create_index("ix_audit_candidate", "audit_log", ["candidate_id"])
    op.create_index("ix_audit_actor", "audit_log", ["actor"])
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    op.create_table(
        "tombstones",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_table(
        "tier_overrides",
        sa.Column("override_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("model_tier", sa.String(length=8), nullable=True),
        sa.Column("model_risk", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("override_id"),
    )
    op.create_index("ix_tier_overrides_candidate_id", "tier_overrides", ["candidate_id"])


def downgrade() -> None:
    op.drop_table("tier_overrides")
    op.drop_table("tombstones")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_guard ON audit_log")
        op.execute("DROP FUNCTION audit_log_guard()")
    op.drop_table("audit_log")
