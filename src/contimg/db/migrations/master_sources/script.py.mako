"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Conventions: docs/migrations.md. Spec tables are never recreated; add columns
with ALTER TABLE ADD COLUMN, new objects with CREATE, and make downgrade() the
exact inverse. Use op.execute with SQL valid on SQLite and PostgreSQL, or branch
on op.get_bind().dialect.name.
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
