"""Users, API tokens, sessions, saved self-assessments and the append-only decision log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    "CREATE TRIGGER decision_log_no_update BEFORE UPDATE ON decision_log "
    "BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER decision_log_no_delete BEFORE DELETE ON decision_log "
    "BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: DELETE refused'); END",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION decision_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'decision_log is append-only: % refused', TG_OP; END $$""",
    "CREATE TRIGGER decision_log_no_change BEFORE UPDATE OR DELETE ON decision_log "
    "FOR EACH ROW EXECUTE FUNCTION decision_log_refuse()",
    "CREATE TRIGGER decision_log_no_truncate BEFORE TRUNCATE ON decision_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION decision_log_refuse()",
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "saved_assessments",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_table(
        "decision_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("input_name", sa.String(256), nullable=False),
        sa.Column("input_digest", sa.String(80), nullable=False),
        sa.Column("input_blob", sa.LargeBinary, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("enterprise_ids", sa.Text, nullable=False),
        sa.Column("rule_ids", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("document_digest", sa.String(80), nullable=False),
        sa.Column("document_blob", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_index("decision_log_created", "decision_log", ["created_at"])
    op.create_index("decision_log_user", "decision_log", ["username"])
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the decision log is never dropped by a migration")
