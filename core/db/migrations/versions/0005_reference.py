"""reference data: hospital entrances, the roster's fixed shift and rest days (issue 10.8)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

A real bureau loads its hospital list (with named entrances), police units and officer roster from files
(``geo/io/reference.py``). Entrances get their own table; officers get the shift they always work and their
fixed weekly rest days ("" for both keeps the rotating roster of earlier releases, so existing rows keep
their meaning).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospital_entrances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hospital_id", "name", name="uq_hospital_entrance_name"),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shift", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("rest_days", sa.String(length=20), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_column("rest_days")
        batch_op.drop_column("shift")
    op.drop_table("hospital_entrances")
