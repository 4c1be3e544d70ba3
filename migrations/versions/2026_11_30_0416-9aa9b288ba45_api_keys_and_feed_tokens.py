"""api keys and feed tokens: organizer API keys (hashed) and rotatable calendar feed tokens

Revision ID: 9aa9b288ba45
Revises: 433a288685d9
Create Date: 2026-11-30 04:16:26.882694+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coordinator.db

revision: str = "9aa9b288ba45"
down_revision: str | None = "433a288685d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            coordinator.db.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("revoked_at", coordinator.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(role = 'admin' AND network_id IS NULL) OR (role <> 'admin' AND network_id IS NOT NULL)",
            name=op.f("ck_api_keys_network_matches_role"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'organizer', 'viewer')", name=op.f("ck_api_keys_role_known")
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_api_keys_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_network_id"), ["network_id"], unique=False)

    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("delegate_id", sa.Integer(), nullable=True),
        sa.Column("city_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            coordinator.db.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(CASE WHEN delegate_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN city_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_feed_tokens_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["cities.id"],
            name=op.f("fk_feed_tokens_city_id_cities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegates.id"],
            name=op.f("fk_feed_tokens_delegate_id_delegates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["working_groups.id"],
            name=op.f("fk_feed_tokens_group_id_working_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_tokens")),
        sa.UniqueConstraint("city_id", name=op.f("uq_feed_tokens_city_id")),
        sa.UniqueConstraint("delegate_id", name=op.f("uq_feed_tokens_delegate_id")),
        sa.UniqueConstraint("group_id", name=op.f("uq_feed_tokens_group_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("feed_tokens")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_network_id"))

    op.drop_table("api_keys")
