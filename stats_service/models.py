from sqlalchemy.orm import DeclarativeBase

from services.db import make_metadata
from services.outbox import Outbox


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox = Outbox(Base.metadata)
