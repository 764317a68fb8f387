"""The backup and restore drill (备份与恢复, issue 17 item 4): `scripts/backup.py` (make backup / make restore) takes
the catalogue's database and attachments, restores them into a fresh place — on PostgreSQL a new cluster started
for the test, on SQLite a new file — and the restored catalogue answers the same public digest (可验证的同步) and
serves every attachment with the same SHA-256, for both attachment stores."""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from services.db import Database, make_engine
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ, with_etag
from tests.harness import (
    PgCluster,
    _pg_admin,
    _pg_url,
    drop_database,
    free_port,
    new_database,
    postgres_binaries_available,
)
from tests.support import ROOT, backend, missing, serve

PDF = b"%PDF-1.7\n" + "备份恢复演练附件".encode() * 300 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
TEXT = "政府信息公开指南（备份演练）\n".encode("gb18030")


@pytest.fixture(scope="module")
def fresh_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCluster | None]:
    """PostgreSQL pass: a cluster of its own to restore into (the drill's "fresh cluster"); SQLite pass: none."""
    if backend() != "postgres":
        yield None
        return
    if not postgres_binaries_available():
        missing("REQUIRE_POSTGRES", "no PostgreSQL server binaries (initdb) for the restore drill's fresh cluster")
    directory = Path(tempfile.mkdtemp(prefix="gk-restore-pg.", dir="/tmp"))
    directory.chmod(0o755)  # the server runs as postgres
    cluster = PgCluster(directory, free_port()).start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def source_url(tmp_path: Path) -> Iterator[str]:
    url = new_database("catalog", tmp_path, label="backup_source")
    yield url
    drop_database(url)


def drill(action: str, directory: Path, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "scripts/backup.py", action, str(directory), "--services", "catalog"],
                         cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{action} failed: {out.stdout}\n{out.stderr}"
    return out.stdout


async def catalogue_state(url: str, store: str, attachment_dir: Path, organ: str,
                          attachments: list[tuple[str, str]]) -> tuple[dict, dict[str, str]]:
    """The organ's public digest and the SHA-256 of each attachment as downloaded from the catalogue at `url`."""
    database = Database(make_engine(url, null_pool=True))
    try:
        settings = Settings(database_url=url, attachment_dir=str(attachment_dir), attachment_store=store)
        async with serve(create_app(settings, database=database)) as client:
            r = await client.get(f"{API}/snapshot/digest", params={"organ": organ})
            assert r.status_code == 200, r.text
            digest = r.json()
            hashes = {}
            for doc_id, attachment_id in attachments:
                got = await client.get(f"{API}/documents/{doc_id}/attachments/{attachment_id}")
                assert got.status_code == 200, got.text
                hashes[attachment_id] = hashlib.sha256(got.content).hexdigest()
            return digest, hashes
    finally:
        await database.dispose()


@pytest.mark.parametrize("store", ["filesystem", "database"])
async def test_backup_restores_the_same_catalogue_and_attachments(store, fresh_cluster, source_url, tmp_path):
    url = source_url
    restored_url = (_pg_url(fresh_cluster.admin_url, "catalog_restored") if fresh_cluster is not None
                    else f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'catalog.db'}")
    source_files, restored_files = tmp_path / "attachments", tmp_path / "restored-attachments"
    try:
        database = Database(make_engine(url, null_pool=True))
        settings = Settings(database_url=url, attachment_dir=str(source_files), attachment_store=store)
        attachments = []
        async with serve(create_app(settings, database=database)) as client:
            staff = Staff(await make_organ(client, "备份演练局"))
            for n, files in enumerate([[("说明.pdf", PDF, "application/pdf"), ("图.png", PNG, "image/png")],
                                       [("指南.txt", TEXT, "text/plain")], []]):
                doc_id, etag = await draft(client, staff, title=f"备份演练文件（第{n}号）")
                for name, content, kind in files:
                    r = await client.post(f"{API}/documents/{doc_id}/attachments",
                                          headers=with_etag(staff.drafter, etag), files={"file": (name, content, kind)})
                    assert r.status_code == 201, r.text
                    etag = r.headers["etag"]
                    attachments.append((doc_id, r.json()["id"]))
                etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
                etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
                await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})
        await database.dispose()
        original = await catalogue_state(url, store, source_files, staff.organ, attachments)
        assert original[0]["records"] == 3 and len(original[0]["digest"]) == 64
        assert set(original[1].values()) == {hashlib.sha256(c).hexdigest() for c in (PDF, PNG, TEXT)}

        backup_dir = tmp_path / "backup"
        out = drill("backup", backup_dir, {"CATALOG_DATABASE_URL": url, "CATALOG_ATTACHMENT_DIR": str(source_files),
                                           "CATALOG_ATTACHMENT_STORE": store})
        assert f"attachments: {3 if store == 'filesystem' else 0} files" in out, out
        drill("restore", backup_dir, {"CATALOG_DATABASE_URL": restored_url,
                                      "CATALOG_ATTACHMENT_DIR": str(restored_files),
                                      "CATALOG_ATTACHMENT_STORE": store})

        restored = await catalogue_state(restored_url, store, restored_files, staff.organ, attachments)
        assert restored == original
    finally:
        if fresh_cluster is not None:
            await _pg_admin(fresh_cluster.admin_url, "DROP DATABASE IF EXISTS catalog_restored WITH (FORCE)")


def test_restore_refuses_a_database_that_is_not_empty(source_url, tmp_path):
    url = source_url
    drill("backup", tmp_path / "backup", {"CATALOG_DATABASE_URL": url,
                                          "CATALOG_ATTACHMENT_DIR": str(tmp_path / "files")})
    out = subprocess.run([sys.executable, "scripts/backup.py", "restore", str(tmp_path / "backup"), "--services",
                          "catalog"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CATALOG_DATABASE_URL": url,
                              "CATALOG_ATTACHMENT_DIR": str(tmp_path / "files")})
    assert out.returncode != 0 and ("not empty" in out.stderr or "exists" in out.stderr), out.stderr
