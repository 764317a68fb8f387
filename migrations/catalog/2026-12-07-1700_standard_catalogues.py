"""基层政务公开标准目录: standard catalogues, organs' adoptions (and their title keywords), explicit mappings

Revision ID: catalog_0015
Revises: catalog_0014
Create Date: 2026-12-07 15:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.db

revision: str = 'catalog_0015'
down_revision: str | None = 'catalog_0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('organ', sa.Column('standard_keywords', sa.JSON(), nullable=True))
    op.create_table(
        'standard_catalogue',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('area', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('source', sa.JSON(), nullable=False),
        sa.Column('entries', sa.JSON(), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_catalogue')),
        sa.UniqueConstraint('code', 'version', name='uq_standard_catalogue_code_version'),
    )
    op.create_table(
        'standard_adoption',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('organ_id', sa.String(length=36), nullable=False),
        sa.Column('catalogue_id', sa.String(length=36), nullable=False),
        sa.Column('item_keys', sa.JSON(), nullable=False),
        sa.Column('adopted_on', sa.Date(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['catalogue_id'], ['standard_catalogue.id'],
                                name=op.f('fk_standard_adoption_catalogue_id_standard_catalogue')),
        sa.ForeignKeyConstraint(['organ_id'], ['organ.id'], name=op.f('fk_standard_adoption_organ_id_organ')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_adoption')),
    )
    op.create_index(op.f('ix_standard_adoption_catalogue_id'), 'standard_adoption', ['catalogue_id'], unique=False)
    op.create_index(op.f('ix_standard_adoption_organ_id'), 'standard_adoption', ['organ_id'], unique=False)
    op.create_table(
        'standard_mapping',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('adoption_id', sa.String(length=36), nullable=False),
        sa.Column('item_key', sa.String(length=40), nullable=False),
        sa.Column('document_id', sa.String(length=36), nullable=False),
        sa.Column('mapped_on', sa.Date(), nullable=False),
        sa.Column('mapped_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', services.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['adoption_id'], ['standard_adoption.id'],
                                name=op.f('fk_standard_mapping_adoption_id_standard_adoption')),
        sa.ForeignKeyConstraint(['document_id'], ['document.id'],
                                name=op.f('fk_standard_mapping_document_id_document')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_standard_mapping')),
        sa.UniqueConstraint('adoption_id', 'item_key', 'document_id', name='uq_standard_mapping'),
    )
    op.create_index(op.f('ix_standard_mapping_adoption_id'), 'standard_mapping', ['adoption_id'], unique=False)
    op.create_index(op.f('ix_standard_mapping_document_id'), 'standard_mapping', ['document_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_standard_mapping_document_id'), table_name='standard_mapping')
    op.drop_index(op.f('ix_standard_mapping_adoption_id'), table_name='standard_mapping')
    op.drop_table('standard_mapping')
    op.drop_index(op.f('ix_standard_adoption_organ_id'), table_name='standard_adoption')
    op.drop_index(op.f('ix_standard_adoption_catalogue_id'), table_name='standard_adoption')
    op.drop_table('standard_adoption')
    op.drop_table('standard_catalogue')
    op.drop_column('organ', 'standard_keywords')
