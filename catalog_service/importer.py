"""Command-line importer (批量导入工具) for an organ's records, over the catalogue's HTTP API.

    python -m catalog_service.importer FILE [--url URL] [--batch-size N] [--dry-run] [--restart]

FILE is NDJSON (one record per line, the body of one `records` item of POST /api/v1/catalog/documents/bulk) or CSV
(`.csv`: one record per row; a list column holds its items separated by `|`; nested fields are dotted columns:
`review.reviewer`, `history.published_at`, `history.validity_history` as `validity@since|validity@since`). Records
migrated from another system carry `history` (publication date in the past, validity, repeal date), see the API.

* The token is an `integration` token of the organ (the environment variable GONGKAI_IMPORT_TOKEN, or --token-file);
  the catalogue is at --url (default GONGKAI_CATALOG_URL or http://127.0.0.1:8101).
* One progress line per batch: records done of total, created / updated / unchanged / rejected / published, rate.
  Every rejected record is printed with its reason and errors (to stderr).
* Resumable: after each batch the number of records done is written to FILE.progress; a new run starts after it
  (--restart: from the beginning). Each batch carries an Idempotency-Key made from the file's digest and the batch's
  position, so a batch whose answer was lost is answered again, not applied twice; and records are upserts by
  external_id with content hashes, so sending one again is "unchanged".
* --dry-run: every record is checked with the API's own model (catalog_service.schemas.BulkRecord), nothing is sent.
* Exchange profiles (domain/exchange.py): a file of `dcat-jsonld` or `jiyuehua` records (NDJSON, or a saved
  `GET /export` page as .json/.jsonld) is imported with every public field: each becomes a bulk record with the
  exporting catalogue's id as external_id, published under its own date, validity and 索引号 (`history`), with a
  review by --reviewer. All records must name one 发布机构 (the token's organ). A 解读 whose target is in the file
  is sent in a later batch than its target, with the target's new id (kept in FILE.progress for a resumed run).
* Exit status: 0 all applied, 1 some records rejected, 2 the import could not go on (it can be resumed).
"""

import argparse
import asyncio
import csv
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import jwt

from catalog_service.domain import exchange
from catalog_service.schemas import MAX_BULK_RECORDS, BulkImportRequest

__all__ = ["ImportRun", "ImportStopped", "main", "read_records", "run"]

BULK_PATH = "/api/v1/catalog/documents/bulk"
LIST_FIELDS = {"key_areas", "keywords", "co_issuer_codes", "amends", "repeals", "withholding_grounds",
               "review.grounds"}
RETRIES = 5


class ImportStopped(Exception):
    """The import cannot go on (the message says why); what was done is kept in the progress file."""


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column, raw in row.items():
        if column is None or raw is None or raw.strip() == "":
            continue  # an empty cell is an omitted field
        value: Any = raw.strip()
        if column in LIST_FIELDS:
            value = [item.strip() for item in value.split("|") if item.strip()]
        elif column == "history.validity_history":
            value = [dict(zip(("validity", "since"), step.split("@", 1), strict=True))
                     for step in value.split("|") if step.strip()]
        target, *path = column.split(".")
        if path:
            record.setdefault(target, {})[path[0]] = value
        else:
            record[target] = value
    return record


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The file's records in order; a line or row that is not a JSON object is handed on as is (the API rejects it
    on its own, in its place)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() in (".json", ".jsonld"):  # a saved export page (or a list of records)
            document = json.load(handle)
            yield from document["items"] if isinstance(document, dict) else document
            return
        if path.suffix.lower() == ".csv":
            for row in csv.DictReader(handle):
                yield _csv_record(row)
            return
        for line in handle:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield {"_unreadable_line": line[:80]}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:32]


@dataclass
class ImportRun:
    total: int = 0
    done: int = 0
    batches: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("created", "updated", "unchanged", "rejected", "published"), 0))

    def add(self, summary: dict[str, int]) -> None:
        for key in self.counts:
            self.counts[key] += int(summary.get(key, 0))


def _progress_file(path: Path) -> Path:
    return path.with_name(path.name + ".progress")


def _load_progress(path: Path, digest: str) -> tuple[int, dict[str, str]]:
    progress = _progress_file(path)
    if not progress.exists():
        return 0, {}
    state = json.loads(progress.read_text())
    if state.get("digest") != digest:  # another file under the same name: start over
        return 0, {}
    return int(state.get("done", 0)), dict(state.get("ids", {}))


def _save_progress(path: Path, digest: str, done: int, ids: dict[str, str] | None = None) -> None:
    progress = _progress_file(path)
    tmp = progress.with_name(progress.name + ".tmp")
    tmp.write_text(json.dumps({"digest": digest, "done": done, **({"ids": ids} if ids else {})}))
    tmp.replace(progress)  # atomic: a crash leaves the old state or the new one


def _line(run: ImportRun, started: float, out: TextIO, label: str) -> None:
    c = run.counts
    rate = run.done / max(time.monotonic() - started, 1e-6)
    percent = 100 * run.done // run.total if run.total else 100
    print(f"{label} {run.batches}: {run.done}/{run.total} ({percent}%) · created {c['created']} · updated "
          f"{c['updated']} · unchanged {c['unchanged']} · rejected {c['rejected']} · published {c['published']} · "
          f"{rate:.1f} records/s", file=out, flush=True)


def _report_rejections(results: list[dict[str, Any]], offset: int, err: TextIO) -> None:
    for result in results:
        if result.get("status") == "rejected":
            errors = "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}"
                               for e in result.get("errors") or [])
            print(f"rejected record {offset + result['index'] + 1} ({result.get('external_id')}): "
                  f"{result.get('reason')}: {errors}", file=err, flush=True)


def _dry_run_batch(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """The API's own validation of each record, with the API's answer shape; nothing is written."""
    parsed = BulkImportRequest.model_validate({"records": batch})
    results = []
    for index, record in enumerate(parsed.records):
        errors = getattr(record, "errors", None)
        if errors is not None:
            results.append({"index": index, "external_id": record.external_id, "status": "rejected",
                            "reason": "invalid", "errors": errors})
        else:
            results.append({"index": index, "external_id": record.external_id, "status": "valid"})
    rejected = sum(r["status"] == "rejected" for r in results)
    return {"results": results, "summary": {"rejected": rejected}}


async def _send(client: httpx.AsyncClient, batch: list[dict[str, Any]], key: str, retries: int) -> dict[str, Any]:
    """POST one batch, retried with backoff on connection errors, 429 and 5xx (the same key: never applied twice)."""
    delay, problem = 0.5, ""
    for attempt in range(retries):
        try:
            response = await client.post(BULK_PATH, json={"records": batch}, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return response.json()
            problem = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and response.status_code != 429:
                raise ImportStopped(problem)  # 401, 403, 413, 422: sending it again would not help
        if attempt + 1 < retries:
            await asyncio.sleep(delay)
            delay *= 2
    raise ImportStopped(problem)


def _from_profiles(records: list[Any], reviewer: str, token: str | None, err: TextIO
                   ) -> tuple[list[Any], list[int]]:
    """Profile records as bulk records, in an order where a 解读 comes after the record it explains (when that is
    in the file), and the positions where a batch must end (the next level of 解读 needs the new ids)."""
    converted: list[Any] = []
    organs: set[str] = set()
    for number, record in enumerate(records, 1):
        profile = exchange.detect(record)
        if profile is None:
            converted.append(record)
            continue
        errors = exchange.validate(profile, record)
        if errors:
            print(f"record {number} is not a valid {profile} record: " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors), file=err, flush=True)
            converted.append({"_invalid_profile_record": number})  # the API rejects it in its place
            continue
        answer = exchange.from_profile(profile, record, reviewer=reviewer)
        organs.add(answer["organ"])
        converted.append(answer["record"])
    if len(organs) > 1:
        raise ImportStopped(f"the records name several 发布机构 ({', '.join(sorted(organs))}): import each organ's "
                            "records with its own token")
    claimed = _token_organ(token)
    if organs and claimed and organs != {claimed}:  # the API would file them under the token's organ
        raise ImportStopped(f"the records' 发布机构 is {organs.pop()}, the token is {claimed}'s: "
                            "use that organ's token")
    position = {r.get("external_id"): i for i, r in enumerate(converted) if isinstance(r, dict)}
    level: dict[int, int] = {}

    def depth(i: int, seen: frozenset[int] = frozenset()) -> int:
        if i not in level:
            target = converted[i].get("interpretation_of") if isinstance(converted[i], dict) else None
            parent = position.get(target) if target is not None else None
            level[i] = 0 if parent is None or parent in seen | {i} else depth(parent, seen | {i}) + 1
        return level[i]

    order = sorted(range(len(converted)), key=lambda i: (depth(i), i))
    ends = [n for n in range(1, len(order)) if level[order[n]] != level[order[n - 1]]]
    return [converted[i] for i in order], ends


def _token_organ(token: str | None) -> str | None:
    """The `organ` claim of a JWT, read without checking it (the API checks it); None if there is none."""
    try:
        return jwt.decode(token or "", options={"verify_signature": False}).get("organ")
    except jwt.PyJWTError:
        return None


def _batches(total: int, batch_size: int, ends: list[int]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for end in [*ends, total]:
        for offset in range(start, end, batch_size):
            bounds.append((offset, min(offset + batch_size, end)))
        start = end
    return bounds


async def run(path: Path, *, url: str, token: str | None, batch_size: int = 500, dry_run: bool = False,
              restart: bool = False, transport: httpx.AsyncBaseTransport | None = None,
              out: TextIO = sys.stdout, err: TextIO = sys.stderr, retries: int = RETRIES,
              reviewer: str = "历史数据迁移") -> int:
    if not 1 <= batch_size <= MAX_BULK_RECORDS:
        raise ImportStopped(f"--batch-size must be 1–{MAX_BULK_RECORDS}")
    records, ends = _from_profiles(list(read_records(path)), reviewer, token, err)
    digest = _digest(path)
    start, new_ids = (0, {}) if (restart or dry_run) else _load_progress(path, digest)
    state = ImportRun(total=len(records), done=start)
    if start:
        print(f"resuming after record {start} of {len(records)} ({_progress_file(path).name})", file=out, flush=True)
    started = time.monotonic()
    batches = [(a, b) for a, b in _batches(len(records), batch_size, ends) if a >= start]
    if dry_run:
        for offset, end in batches:
            answer = _dry_run_batch(records[offset:end])
            state.batches += 1
            state.done = end
            state.counts["rejected"] += answer["summary"]["rejected"]
            _report_rejections(answer["results"], offset, err)
            _line(state, started, out, "dry run: batch")
        return 1 if state.counts["rejected"] else 0
    if not token:
        raise ImportStopped("no token: set GONGKAI_IMPORT_TOKEN (an integration token of the organ)")
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=httpx.Timeout(120, connect=10),
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for offset, end in batches:
            # A 解读 of a record imported in an earlier batch points at that record's new id.
            batch = [r | {"interpretation_of": new_ids[r["interpretation_of"]]}
                     if isinstance(r, dict) and r.get("interpretation_of") in new_ids else r
                     for r in records[offset:end]]
            answer = await _send(client, batch, f"import-{digest}-{offset}-{len(batch)}", retries)
            state.batches += 1
            state.done = end
            state.add(answer["summary"])
            _report_rejections(answer["results"], offset, err)
            if ends:  # profile records: remember the new ids for the 解读 of later batches (and a resumed run)
                new_ids |= {r["external_id"]: r["document_id"] for r in answer["results"] if r.get("document_id")}
            _save_progress(path, digest, state.done, new_ids)
            _line(state, started, out, "batch")
    return 1 if state.counts["rejected"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog_service.importer", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="NDJSON or CSV (.csv) of records")
    parser.add_argument("--url", default=os.environ.get("GONGKAI_CATALOG_URL", "http://127.0.0.1:8101"))
    parser.add_argument("--token-file", type=Path, help="file holding the integration token")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--dry-run", action="store_true", help="check every record, send nothing")
    parser.add_argument("--restart", action="store_true", help="ignore FILE.progress and start from the first record")
    parser.add_argument("--reviewer", default="历史数据迁移",
                        help="审查人 recorded for records of an exchange profile (they were public already)")
    args = parser.parse_args(argv)
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get("GONGKAI_IMPORT_TOKEN")
    try:
        return asyncio.run(run(args.file, url=args.url, token=token, batch_size=args.batch_size,
                               dry_run=args.dry_run, restart=args.restart, reviewer=args.reviewer))
    except ImportStopped as exc:
        print(f"import stopped: {exc} (run again to resume)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
