"""A small stand-alone schema for testing the shared outbox machinery on either backend."""

from sqlalchemy import Column, Integer, String, Table

from services.db import make_metadata
from services.outbox import Outbox

metadata = make_metadata()
outbox = Outbox(metadata)
thing = Table("thing", metadata, Column("id", String(36), primary_key=True), Column("n", Integer, nullable=False))
mirror = Table("mirror", metadata, Column("event_id", Integer, primary_key=True),
               Column("entity_id", String(64), nullable=False))
