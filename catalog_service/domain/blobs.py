"""附件存储 · where attachments' bytes live, content-addressed by SHA-256, behind one small interface.

- `filesystem` (the embedded default): `<CATALOG_ATTACHMENT_DIR>/<sha[:2]>/<sha>`, written to a temporary name,
  fsynced and renamed into place. Several instances need the directory on a shared volume.
- `database`: the `attachment_blob` table of the catalogue's own database (bytea on PostgreSQL), written in the
  same transaction as the attachment row, so every instance serves every file and a database backup (pg_dump)
  holds them; there is no second store to back up or keep in step. A file is read whole into memory to be served
  (at most CATALOG_MAX_ATTACHMENT_BYTES, 20 MiB).

Chosen by CATALOG_ATTACHMENT_STORE. Either way an upload is first spooled to `<CATALOG_ATTACHMENT_DIR>/tmp` (local
scratch) while it is hashed, capped and its type checked; nothing is stored under a content address before the
whole content is known.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import AttachmentBlob

__all__ = ["BlobContent", "BlobStore", "DatabaseBlobStore", "FilesystemBlobStore", "StoreKind", "blob_path",
           "make_blob_store"]

StoreKind = Literal["filesystem", "database"]


def blob_path(root: str, sha256: str) -> Path:
    return Path(root) / sha256[:2] / sha256


@dataclass(frozen=True)
class BlobContent:
    """A stored file to serve: a path on disk, or the bytes themselves."""

    path: Path | None = None
    data: bytes | None = None


class BlobStore(Protocol):
    scratch_dir: Path

    async def put(self, session: AsyncSession, spooled: Path, sha256: str, size: int) -> None:
        """Keep the verified file `spooled` (which the caller removes afterwards if it is still there) under
        `sha256`; storing the same content again is a no-op."""

    async def get(self, session: AsyncSession, sha256: str) -> BlobContent | None:
        """The content stored under `sha256`, or None when it is missing."""


class FilesystemBlobStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.scratch_dir = Path(root) / "tmp"

    async def put(self, session: AsyncSession, spooled: Path, sha256: str, size: int) -> None:
        def move() -> None:
            final = blob_path(self.root, sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(spooled, final)  # atomic; the same content uploaded twice lands on the same file

        await anyio.to_thread.run_sync(move)

    async def get(self, session: AsyncSession, sha256: str) -> BlobContent | None:
        path = blob_path(self.root, sha256)
        return BlobContent(path=path) if path.is_file() else None


class DatabaseBlobStore:
    def __init__(self, scratch_root: str) -> None:
        self.scratch_dir = Path(scratch_root) / "tmp"

    async def put(self, session: AsyncSession, spooled: Path, sha256: str, size: int) -> None:
        data = await anyio.to_thread.run_sync(spooled.read_bytes)
        insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        # Two uploads of the same content at once (two instances): one row, no error.
        await session.execute(insert(AttachmentBlob).values(sha256=sha256, size=size, content=data)
                              .on_conflict_do_nothing(index_elements=["sha256"]))

    async def get(self, session: AsyncSession, sha256: str) -> BlobContent | None:
        data = (await session.execute(select(AttachmentBlob.content).where(AttachmentBlob.sha256 == sha256))
                ).scalar_one_or_none()
        return None if data is None else BlobContent(data=bytes(data))


def make_blob_store(kind: StoreKind, attachment_dir: str) -> BlobStore:
    return DatabaseBlobStore(attachment_dir) if kind == "database" else FilesystemBlobStore(attachment_dir)
