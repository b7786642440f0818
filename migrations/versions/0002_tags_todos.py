"""Tags, tag groups, todo trees, and the tag link index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _owner(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["users.id"], name=f"fk_{table}_owner_id_users", ondelete="CASCADE"
    )


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "tag_groups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("goal_ratios", sa.Text(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_tag_groups"),
        _owner("tag_groups"),
    )
    op.create_index("ix_tag_groups_owner_id_created_at", "tag_groups", ["owner_id", "created_at"])
    op.create_table(
        "tags",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        _owner("tags"),
        sa.ForeignKeyConstraint(
            ["group_id"], ["tag_groups.id"], name="fk_tags_group_id_tag_groups"
        ),
        sa.UniqueConstraint("group_id", "name_key", name="uq_tags_group_id_name_key"),
    )
    op.create_index("ix_tags_owner_id", "tags", ["owner_id"])
    op.create_table(
        "todos",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("tag_group_id", sa.String(36), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("deadline", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tag_ids", sa.Text(), nullable=False),
        sa.Column("sort_key", sa.String(96), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_todos"),
        _owner("todos"),
        sa.ForeignKeyConstraint(
            ["tag_group_id"], ["tag_groups.id"], name="fk_todos_tag_group_id_tag_groups"
        ),
    )
    op.create_index("ix_todos_owner_id_sort_key", "todos", ["owner_id", "sort_key"])
    op.create_index(
        "ix_todos_owner_id_tag_group_id_status", "todos", ["owner_id", "tag_group_id", "status"]
    )
    op.create_index("ix_todos_parent_id", "todos", ["parent_id"])
    op.create_table(
        "tag_links",
        sa.Column("tag_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("tag_id", "kind", "resource_id", name="pk_tag_links"),
    )
    op.create_index("ix_tag_links_kind_resource_id", "tag_links", ["kind", "resource_id"])
    op.create_index(
        "ix_tag_links_owner_id_kind_tag_id", "tag_links", ["owner_id", "kind", "tag_id"]
    )


def downgrade() -> None:
    for table in ("tag_links", "todos", "tags", "tag_groups"):
        op.drop_table(table)
