"""Backup and restore drill (备份与恢复): every service's database and the catalogue's attachments.

    python scripts/backup.py backup DIR  [--services catalog,request,stats]
    python scripts/backup.py restore DIR [--services catalog,request,stats]

(`make backup BACKUP_DIR=…`, `make restore BACKUP_DIR=…`.) The databases are the services' own settings
(<SERVICE>_DATABASE_URL; SQLite files in data/ by default), the attachments CATALOG_ATTACHMENT_DIR — for a restore,
point them at the new place first (a fresh cluster, an empty directory).

- PostgreSQL: `pg_dump --format=custom` (one consistent snapshot per database), restored with `pg_restore` into a
  database that is created if missing and must be empty (a restore never merges into live data).
- SQLite: the online backup API (a consistent copy while the service runs); restored to a file that must not exist.
- Attachments (filesystem store): every content-addressed file is copied after the database dumps and checked
  against its SHA-256 name, both ways. Files are never deleted or changed once stored, so everything the dumped
  database names is there. With CATALOG_ATTACHMENT_STORE=database they are inside the catalogue's dump already.

DIR/manifest.json lists what was taken (per service: backend and file; attachments: SHA-256 → size). A restore
verifies every attachment against the manifest and fails (exit 1) on any difference.
"""

import argparse
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVICES = ("catalog", "request", "stats")


def service_settings(service: str):
    if service == "catalog":
        from catalog_service.config import Settings
    elif service == "request":
        from request_service.config import Settings
    elif service == "stats":
        from stats_service.config import Settings
    else:
        raise SystemExit(f"unknown service {service}")
    return Settings()


def libpq_url(url: str) -> str:
    """postgresql+asyncpg://… → postgresql://… (what pg_dump, pg_restore and psql take)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url


def sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def run(cmd: list[str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}): {out.stderr.strip()[-2000:]}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while a service writes (WAL included)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- backup ----------------------------------------------------------------------------------------------------

def backup_database(service: str, url: str, target: Path) -> dict:
    if url.startswith("postgresql"):
        file = target / f"{service}.dump"
        run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={file}",
             f"--dbname={libpq_url(url)}"])
        return {"backend": "postgresql", "file": file.name}
    source = sqlite_path(url)
    if not source.is_file():
        raise SystemExit(f"{service}: no database at {source}")
    file = target / f"{service}.db"
    _sqlite_copy(source, file)
    return {"backend": "sqlite", "file": file.name}


def backup_attachments(root: Path, target: Path) -> dict[str, int]:
    """Copy every stored file (<root>/<sha[:2]>/<sha>), checking each against its name."""
    copied: dict[str, int] = {}
    if not root.is_dir():
        return copied
    for path in sorted(root.glob("[0-9a-f][0-9a-f]/*")):
        if not path.is_file() or len(path.name) != 64:
            continue
        if sha256_of(path) != path.name:
            raise SystemExit(f"attachment {path} does not match its SHA-256 name: storage is damaged")
        dest = target / "attachments" / path.parent.name / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        copied[path.name] = path.stat().st_size
    return copied


def backup(directory: Path, services: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "manifest.json").exists():
        raise SystemExit(f"{directory} already holds a backup")
    manifest: dict = {"format": "gongkai-backup/1", "taken_at": datetime.now(UTC).isoformat(), "services": {}}
    for service in services:
        manifest["services"][service] = backup_database(service, service_settings(service).database_url, directory)
        print(f"{service}: {manifest['services'][service]['backend']} → {manifest['services'][service]['file']}")
    if "catalog" in services:
        settings = service_settings("catalog")
        manifest["attachment_store"] = settings.attachment_store
        # After the databases: stored files are never changed or deleted, so every file they name is here.
        manifest["attachments"] = (backup_attachments(Path(settings.attachment_dir), directory)
                                   if settings.attachment_store == "filesystem" else {})
        print(f"attachments: {len(manifest['attachments'])} files ({settings.attachment_store} store)")
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


# --- restore ---------------------------------------------------------------------------------------------------

def _maintenance_url(url: str) -> tuple[str, str]:
    parts = urlsplit(libpq_url(url))
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def restore_database(service: str, url: str, entry: dict, directory: Path) -> None:
    file = directory / entry["file"]
    if entry["backend"] == "postgresql":
        if not url.startswith("postgresql"):
            raise SystemExit(f"{service}: the backup is PostgreSQL, {service.upper()}_DATABASE_URL is not")
        admin, name = _maintenance_url(url)
        exists = subprocess.run(["psql", "-tAX", f"--dbname={admin}", "-c",
                                 f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                                capture_output=True, text=True, check=True).stdout.strip() == "1"
        if not exists:
            run(["psql", "-X", f"--dbname={admin}", "-c",
                 f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' LC_COLLATE \'C\' '
                 f"LC_CTYPE 'C.UTF-8'"])
        tables = subprocess.run(["psql", "-tAX", f"--dbname={libpq_url(url)}", "-c",
                                 "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                                capture_output=True, text=True, check=True).stdout.strip()
        if tables != "0":
            raise SystemExit(f"{service}: database {name} is not empty; restore into a fresh database")
        run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
             f"--dbname={libpq_url(url)}", str(file)])
    else:
        if url.startswith("postgresql"):
            raise SystemExit(f"{service}: the backup is SQLite, {service.upper()}_DATABASE_URL is PostgreSQL")
        target = sqlite_path(url)
        if target.exists():
            raise SystemExit(f"{service}: {target} exists; restore into a new file")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(file, target)


def restore_attachments(manifest: dict, directory: Path, root: Path) -> None:
    for sha, size in sorted(manifest.get("attachments", {}).items()):
        source = directory / "attachments" / sha[:2] / sha
        if not source.is_file() or sha256_of(source) != sha or source.stat().st_size != size:
            raise SystemExit(f"attachment {sha} in the backup is missing or damaged")
        dest = root / sha[:2] / sha
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        if sha256_of(dest) != sha:
            raise SystemExit(f"attachment {sha} was not restored intact")


def restore(directory: Path, services: list[str]) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    for service in services:
        entry = manifest["services"].get(service)
        if entry is None:
            raise SystemExit(f"the backup has no {service} database")
        restore_database(service, service_settings(service).database_url, entry, directory)
        print(f"{service}: restored from {entry['file']}")
    if "catalog" in services:
        settings = service_settings("catalog")
        if settings.attachment_store != manifest.get("attachment_store", "filesystem"):
            raise SystemExit(f"the backup's attachments are in the {manifest.get('attachment_store')} store; "
                             f"set CATALOG_ATTACHMENT_STORE to match")
        restore_attachments(manifest, directory, Path(settings.attachment_dir))
        print(f"attachments: {len(manifest.get('attachments', {}))} files verified and restored")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("backup", "restore"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--services", default=",".join(SERVICES), help="comma-separated (default: all three)")
    args = parser.parse_args(argv)
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    (backup if args.action == "backup" else restore)(args.directory, services)


if __name__ == "__main__":
    main()
