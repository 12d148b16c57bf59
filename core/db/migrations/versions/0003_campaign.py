"""campaign loop: plan lifecycle, visit check-ins, action results (issue 13)

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01

Three new tables and no change to existing ones: ``plan_status`` (draft → approved → closed, with who
approved and the file hashes), ``plan_checkins`` (stationed officers' check-ins of planned visits) and
``plan_action_results`` (commanders' records of each concentrated action's results).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COUNTS = ("persons_checked", "scalpers_caught", "touts_caught", "warned_away", "cases_handed_over")


def upgrade() -> None:
    op.create_table(
        "plan_status",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("files_sha256", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plan_plans.id"]),
        sa.PrimaryKeyConstraint("plan_id"),
    )
    op.create_table(
        "plan_checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.String(length=16), nullable=False),
        sa.Column("hospital_id", sa.String(length=32), nullable=False),
        sa.Column("point_id", sa.String(length=48), nullable=False),
        sa.Column("point_name", sa.String(length=100), nullable=False),
        sa.Column("officer_id", sa.String(length=32), nullable=False),
        sa.Column("planned_start", sa.DateTime(), nullable=False),
        sa.Column("planned_end", sa.DateTime(), nullable=False),
        sa.Column("peak", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("actual_start", sa.DateTime(), nullable=True),
        sa.Column("findings", sa.Text(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _COUNTS],
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_checkins", schema=None) as batch_op:
        batch_op.create_index("ix_plan_checkin_visit", ["officer_id", "point_id", "planned_start"], unique=True)
        batch_op.create_index("ix_plan_checkin_time", ["planned_start"], unique=False)
    op.create_table(
        "plan_action_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("hospital_id", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("officers", sa.Integer(), nullable=False),
        sa.Column("units", sa.Text(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _COUNTS],
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_action_results", schema=None) as batch_op:
        batch_op.create_index("ix_plan_action_result", ["hospital_id", "date"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("plan_action_results", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_action_result")
    op.drop_table("plan_action_results")
    with op.batch_alter_table("plan_checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_checkin_time")
        batch_op.drop_index("ix_plan_checkin_visit")
    op.drop_table("plan_checkins")
    op.drop_table("plan_status")
