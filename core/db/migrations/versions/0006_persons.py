"""persons: target persons, their mentions, sightings batches, resolution decisions, hand-overs (issue 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Five new tables and no change to existing ones: ``persons``, ``person_mentions`` (keyed hashes and masked
forms; clear values only where ``persons_keep_clear`` is set), ``person_sighting_batches``,
``person_decisions`` (commanders' confirm/split) and ``person_handovers`` (what was sent to whom, file hash).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('person_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mention_a', sa.String(length=120), nullable=False),
    sa.Column('mention_b', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('person_handovers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('hospital_id', sa.String(length=32), nullable=True),
    sa.Column('n_persons', sa.Integer(), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('person_mentions',
    sa.Column('mention_id', sa.String(length=120), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.String(length=100), nullable=False),
    sa.Column('origin', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=True),
    sa.Column('hospital_id', sa.String(length=32), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('camera_id', sa.String(length=64), nullable=False),
    sa.Column('person_ref', sa.String(length=64), nullable=False),
    sa.Column('sanction', sa.String(length=16), nullable=False),
    sa.Column('name_hash', sa.String(length=64), nullable=False),
    sa.Column('name_masked', sa.String(length=64), nullable=False),
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('id_masked', sa.String(length=24), nullable=False),
    sa.Column('id_status', sa.String(length=12), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('phone_masked', sa.String(length=24), nullable=False),
    sa.Column('name_clear', sa.String(length=64), nullable=False),
    sa.Column('id_clear', sa.String(length=24), nullable=False),
    sa.Column('phone_clear', sa.String(length=24), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('mention_id')
    )
    with op.batch_alter_table('person_mentions', schema=None) as batch_op:
        batch_op.create_index('ix_person_mentions_hospital', ['hospital_id', 'seen_at'], unique=False)
        batch_op.create_index('ix_person_mentions_person', ['person_id'], unique=False)

    op.create_table('person_sighting_batches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('persons',
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('name_masked', sa.String(length=64), nullable=False),
    sa.Column('id_masked', sa.String(length=24), nullable=False),
    sa.Column('id_status', sa.String(length=12), nullable=False),
    sa.Column('phone_masked', sa.String(length=24), nullable=False),
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('n_mentions', sa.Integer(), nullable=False),
    sa.Column('n_incidents', sa.Integer(), nullable=False),
    sa.Column('n_sightings', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=True),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('main_hospital', sa.String(length=32), nullable=False),
    sa.Column('hospitals', sa.Text(), nullable=False),
    sa.Column('peak_window', sa.String(length=40), nullable=False),
    sa.Column('peak_center_min', sa.Float(), nullable=True),
    sa.Column('trend', sa.String(length=8), nullable=False),
    sa.Column('highest_sanction', sa.String(length=16), nullable=False),
    sa.Column('group_id', sa.String(length=16), nullable=False),
    sa.Column('min_confidence', sa.Float(), nullable=False),
    sa.Column('n_review', sa.Integer(), nullable=False),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('person_id')
    )


def downgrade() -> None:
    op.drop_table('persons')
    op.drop_table('person_sighting_batches')
    with op.batch_alter_table('person_mentions', schema=None) as batch_op:
        batch_op.drop_index('ix_person_mentions_person')
        batch_op.drop_index('ix_person_mentions_hospital')

    op.drop_table('person_mentions')
    op.drop_table('person_handovers')
    op.drop_table('person_decisions')
