"""Command-line importer (批量导入工具) for an organ's records, over the catalogue's HTTP API.

    python -m catalog_service.importer FILE [--url URL] [--batch-size N] [--dry-run] [--restart]
                                             [--source-token-file F] [--source-base-url URL] [--max-file-bytes N]

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
* Attachments (附件) of profile records (`dcat:distribution`, `附件`): the bulk import does not carry files, so each is
  downloaded from its URL (http/https only; at most --max-file-bytes; a Bearer token for the source with
  --source-token-file or GONGKAI_SOURCE_TOKEN — never the importing catalogue's token; --source-base-url when the
  export's links name an address the importer cannot reach), its SHA-256 checked against the export, and uploaded to
  the new record through the attachment API. A record's files are attached while it is a draft and it is published
  after (files are attached before the decision, never to a published record — domain/attachments.py): a record
  with files is first sent without its review, then its files, then the whole record. What is already attached (same
  SHA-256, read from GET …/attachments) is neither downloaded nor uploaded again. A record whose file cannot be had
  (download failed, SHA-256 mismatch, refused) is reported and kept as a draft with the files it has, not published
  without one; its position is kept in FILE.progress and a resumed run tries it again. A dry run downloads nothing.
* Exit status: 0 all applied, 1 some records rejected or files missing, 2 the import could not go on (it can be
  resumed).
"""

import argparse
import asyncio
import csv
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import jwt

from catalog_service.domain import exchange
from catalog_service.domain.attachments import ATTACHABLE
from catalog_service.schemas import MAX_BULK_RECORDS, BulkImportRequest

__all__ = ["ImportRun", "ImportStopped", "main", "read_records", "run"]

BULK_PATH = "/api/v1/catalog/documents/bulk"
ATTACHMENTS_PATH = "/api/v1/catalog/documents/{}/attachments"
MAX_FILE_BYTES = 20 * 1024 * 1024  # the catalogue's own default limit (CATALOG_MAX_ATTACHMENT_BYTES)
LIST_FIELDS = {"key_areas", "keywords", "co_issuer_codes", "amends", "repeals", "withholding_grounds",
               "review.grounds"}
RETRIES = 5


class ImportStopped(Exception):
    """The import cannot go on (the message says why); what was done is kept in the progress file."""


class FileFailed(Exception):
    """One attachment could not be had or stored (the message says why); its record is kept as a draft."""


@dataclass(frozen=True)
class SourceFile:
    """An attachment as the export lists it."""

    filename: str
    media_type: str
    size: int
    sha256: str
    url: str


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
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("uploaded", "present", "failed"), 0))

    def add(self, summary: dict[str, int]) -> None:
        for key in self.counts:
            self.counts[key] += int(summary.get(key, 0))


def _progress_file(path: Path) -> Path:
    return path.with_name(path.name + ".progress")


def _load_progress(path: Path, digest: str) -> tuple[int, dict[str, str], list[int]]:
    """(records done, new ids by external id, positions to try again: records kept as drafts for a missing file)."""
    progress = _progress_file(path)
    if not progress.exists():
        return 0, {}, []
    state = json.loads(progress.read_text())
    if state.get("digest") != digest:  # another file under the same name: start over
        return 0, {}, []
    return int(state.get("done", 0)), dict(state.get("ids", {})), [int(i) for i in state.get("retry", [])]


def _save_progress(path: Path, digest: str, done: int, ids: dict[str, str] | None = None,
                   retry: list[int] | None = None) -> None:
    progress = _progress_file(path)
    tmp = progress.with_name(progress.name + ".tmp")
    tmp.write_text(json.dumps({"digest": digest, "done": done, **({"ids": ids} if ids else {}),
                               **({"retry": retry} if retry else {})}))
    tmp.replace(progress)  # atomic: a crash leaves the old state or the new one


def _line(run: ImportRun, started: float, out: TextIO, label: str, *, listed: int | None = None) -> None:
    c, f = run.counts, run.files
    rate = run.done / max(time.monotonic() - started, 1e-6)
    percent = 100 * run.done // run.total if run.total else 100
    files = (f"attachments listed {listed} (none downloaded)" if listed is not None else
             f"attachments uploaded {f['uploaded']}, already there {f['present']}, failed {f['failed']}")
    print(f"{label} {run.batches}: {run.done}/{run.total} ({percent}%) · created {c['created']} · updated "
          f"{c['updated']} · unchanged {c['unchanged']} · rejected {c['rejected']} · published {c['published']} · "
          f"{files} · {rate:.1f} records/s", file=out, flush=True)


def _report_rejections(results: list[dict[str, Any]], positions: list[int], err: TextIO) -> None:
    for result in results:
        if result.get("status") == "rejected":
            errors = "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}"
                               for e in result.get("errors") or [])
            print(f"rejected record {positions[result['index']] + 1} ({result.get('external_id')}): "
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


async def _send(client: httpx.AsyncClient, batch: list[dict[str, Any]], key: str | None, retries: int
                ) -> dict[str, Any]:
    """POST one batch, retried with backoff on connection errors, 429 and 5xx (the same key: never applied twice;
    without a key only for a call that is idempotent by itself)."""
    delay, problem = 0.5, ""
    for attempt in range(retries):
        try:
            response = await client.post(BULK_PATH, json={"records": batch},
                                         headers={"Idempotency-Key": key} if key else {})
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
                   ) -> tuple[list[Any], list[list[SourceFile]], list[int]]:
    """Profile records as bulk records, in an order where a 解读 comes after the record it explains (when that is
    in the file), the files each lists, and the positions where a batch must end (the next level of 解读 needs the
    new ids)."""
    converted: list[Any] = []
    files: list[list[SourceFile]] = []
    organs: set[str] = set()
    for number, record in enumerate(records, 1):
        profile = exchange.detect(record)
        files.append([])
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
        files[-1] = [SourceFile(**f) for f in answer["attachments"]]
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
    return [converted[i] for i in order], [files[i] for i in order], ends


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


@dataclass
class _Source:
    """Where the files come from: a client of its own (the importing catalogue's token never goes there)."""

    client: httpx.AsyncClient
    base_url: str | None
    max_bytes: int
    retries: int

    def url(self, listed: str) -> str:
        parts = urlsplit(listed)
        if parts.scheme.lower() not in ("http", "https"):
            raise FileFailed(f"not an http(s) URL: {listed[:120]}")
        if self.base_url:  # the export names the public address; the importer reaches the source elsewhere
            return self.base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        return listed

    async def fetch(self, file: SourceFile) -> bytes:
        """The file's bytes, at most max_bytes, whose SHA-256 is the one the export states."""
        url = self.url(file.url)
        if file.size > self.max_bytes:
            raise FileFailed(f"{file.size} bytes listed, more than --max-file-bytes {self.max_bytes}")
        delay, problem = 0.5, ""
        for attempt in range(self.retries):
            try:
                async with self.client.stream("GET", url) as response:
                    if response.status_code == 200:
                        data, digest = bytearray(), hashlib.sha256()
                        async for chunk in response.aiter_bytes():
                            data += chunk
                            if len(data) > self.max_bytes:
                                raise FileFailed(f"download larger than --max-file-bytes {self.max_bytes}")
                            digest.update(chunk)
                        if digest.hexdigest() != file.sha256:
                            raise FileFailed(f"SHA-256 mismatch: the export states {file.sha256}, the file "
                                             f"downloaded from {url} is {digest.hexdigest()} ({len(data)} bytes)")
                        return bytes(data)
                    problem = f"download {url}: HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        raise FileFailed(problem)
            except httpx.TransportError as exc:
                problem = f"download {url}: {type(exc).__name__}: {exc}"
            if attempt + 1 < self.retries:
                await asyncio.sleep(delay)
                delay *= 2
        raise FileFailed(problem)


class _Stale(Exception):
    """412: the record moved since its version was read (e.g. an upload whose answer was lost went through)."""


async def _listing(client: httpx.AsyncClient, document_id: str) -> tuple[str, str, Counter[str]]:
    """(state, version, SHA-256 of the files it holds) of an imported record."""
    response = await client.get(ATTACHMENTS_PATH.format(document_id))
    if response.status_code != 200:
        raise FileFailed(f"the record's attachments could not be read: HTTP {response.status_code}: "
                         f"{response.text[:200]}")
    body = response.json()
    return body["status"], response.headers["etag"], Counter(a["sha256"] for a in body["attachments"])


async def _upload(client: httpx.AsyncClient, document_id: str, version: str, file: SourceFile, content: bytes,
                  retries: int) -> str:
    """Upload one file with If-Match; the record's new version."""
    delay, problem = 0.5, ""
    for attempt in range(retries):
        try:
            response = await client.post(ATTACHMENTS_PATH.format(document_id), headers={"If-Match": version},
                                         files={"file": (file.filename, content, file.media_type)},
                                         data={"withheld": "false"})
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 201:
                return response.headers["etag"]
            if response.status_code == 412:
                raise _Stale
            problem = f"upload refused: HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and response.status_code != 429:
                raise FileFailed(problem)
        if attempt + 1 < retries:
            await asyncio.sleep(delay)
            delay *= 2
    raise FileFailed(problem)


async def _attach(client: httpx.AsyncClient, source: _Source, document_id: str, files: list[SourceFile],
                  state: ImportRun, retries: int) -> list[str]:
    """Every listed file on the record (those it holds already — same SHA-256 — are not fetched again); the
    problems, one per file that could not be had."""
    try:
        status, version, held = await _listing(client, document_id)
    except FileFailed as exc:
        state.files["failed"] += len(files)
        return [str(exc)]
    have, missing = Counter(held), []
    for file in files:
        if held[file.sha256] > 0:
            held[file.sha256] -= 1
            state.files["present"] += 1
        else:
            missing.append(file)
    if missing and status not in ATTACHABLE:
        state.files["failed"] += len(missing)
        return [f"attachment {f.filename}: the record is {status}, files are attached before publication"
                for f in missing]
    problems = []
    for file in missing:
        try:
            content = await source.fetch(file)
            for _ in range(2):
                try:
                    version = await _upload(client, document_id, version, file, content, retries)
                    break
                except _Stale:  # read again: the file may be there now (an answer lost on the way back)
                    _, version, now = await _listing(client, document_id)
                    if now[file.sha256] > have[file.sha256]:
                        break
            else:
                raise FileFailed("upload refused: HTTP 412 (the record keeps changing)")
            have[file.sha256] += 1
        except FileFailed as exc:
            state.files["failed"] += 1
            problems.append(f"attachment {file.filename}: {exc}")
        else:
            state.files["uploaded"] += 1
    return problems


def _as_draft(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the review that publishes it (and the history that goes with that review)."""
    return {k: v for k, v in record.items() if k not in ("review", "history")}


def _key(digest: str, positions: list[int], batch: list[Any], *, by_body: bool) -> str:
    """Idempotency-Key of a batch: the same request body, the same key. A batch of the file's consecutive records
    is known by its place; one whose body also depends on what happened to files (records kept as drafts left out,
    or retried) by a hash of its body besides."""
    key = f"import-{digest}-{positions[0]}-{len(batch)}"
    if by_body:
        key += "-" + hashlib.sha256(json.dumps(batch, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return key


async def run(path: Path, *, url: str, token: str | None, batch_size: int = 500, dry_run: bool = False,
              restart: bool = False, transport: httpx.AsyncBaseTransport | None = None,
              out: TextIO = sys.stdout, err: TextIO = sys.stderr, retries: int = RETRIES,
              reviewer: str = "历史数据迁移", source_token: str | None = None, source_base_url: str | None = None,
              max_file_bytes: int = MAX_FILE_BYTES) -> int:
    if not 1 <= batch_size <= MAX_BULK_RECORDS:
        raise ImportStopped(f"--batch-size must be 1–{MAX_BULK_RECORDS}")
    records, files, ends = _from_profiles(list(read_records(path)), reviewer, token, err)
    digest = _digest(path)
    start, new_ids, retry = (0, {}, []) if (restart or dry_run) else _load_progress(path, digest)
    state = ImportRun(total=len(records), done=start)
    if start:
        print(f"resuming after record {start} of {len(records)} ({_progress_file(path).name})"
              + (f"; {len(retry)} record(s) kept as drafts tried again" if retry else ""), file=out, flush=True)
    started = time.monotonic()
    # Records kept as drafts by an earlier run (a file was missing) first, then the rest of the file.
    batches = [retry[i:i + batch_size] for i in range(0, len(retry), batch_size)]
    batches += [list(range(a, b)) for a, b in _batches(len(records), batch_size, ends) if a >= start]
    if dry_run:
        listed = 0
        for positions in batches:
            answer = _dry_run_batch([records[i] for i in positions])
            state.batches += 1
            state.done = positions[-1] + 1
            state.counts["rejected"] += answer["summary"]["rejected"]
            _report_rejections(answer["results"], positions, err)
            for i in positions:  # nothing is downloaded; only what could never be is named
                for file in files[i]:
                    listed += 1
                    if urlsplit(file.url).scheme.lower() not in ("http", "https"):
                        state.files["failed"] += 1
                        print(f"record {i + 1}: attachment {file.filename}: not an http(s) URL", file=err,
                              flush=True)
            _line(state, started, out, "dry run: batch", listed=listed)
        return 1 if state.counts["rejected"] or state.files["failed"] else 0
    if not token:
        raise ImportStopped("no token: set GONGKAI_IMPORT_TOKEN (an integration token of the organ)")
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=httpx.Timeout(120, connect=10),
                                 headers={"Authorization": f"Bearer {token}"}) as client, \
            httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(120, connect=10), follow_redirects=True,
                              headers={"Authorization": f"Bearer {source_token}"} if source_token else {}
                              ) as downloads:
        source = _Source(downloads, source_base_url, max_file_bytes, retries)
        kept: list[int] = []  # positions of records kept as drafts in this run
        for positions in batches:
            # A 解读 of a record imported in an earlier batch points at that record's new id.
            batch = [r | {"interpretation_of": new_ids[r["interpretation_of"]]}
                     if isinstance(r, dict) and r.get("interpretation_of") in new_ids else r
                     for r in (records[i] for i in positions)]
            # Records with files: first as drafts, their files attached, and only then published (below).
            with_files = [n for n, i in enumerate(positions) if files[i] and isinstance(batch[n], dict)]
            drafted: dict[int, str] = {}  # n → status of the draft call
            held: set[int] = set()
            if with_files:
                answer = await _send(client, [_as_draft(batch[n]) for n in with_files], None, retries)
                for n, result in zip(with_files, answer["results"], strict=True):
                    document_id = result.get("document_id")
                    if document_id is None:
                        continue  # rejected: the whole record is rejected below, with its reason
                    drafted[n] = result["status"]
                    problems = await _attach(client, source, document_id, files[positions[n]], state, retries)
                    if problems and result["status"] == "rejected":  # left drafting already: nothing to hold back
                        print(f"record {positions[n] + 1} ({result['external_id']}) is {document_id}, past drafting: "
                              + "; ".join(problems), file=err, flush=True)
                    elif problems:  # not published without a file it had: a draft until a run brings the file
                        held.add(n)
                        new_ids[result["external_id"]] = document_id
                        print(f"record {positions[n] + 1} ({result['external_id']}) kept as draft {document_id}: "
                              + "; ".join(problems), file=err, flush=True)
            sent = [n for n in range(len(batch)) if n not in held]
            if sent:
                body = [batch[n] for n in sent]
                key = _key(digest, [positions[n] for n in sent], body, by_body=bool(with_files or held)
                           or positions[0] < start)
                answer = await _send(client, body, key, retries)
                state.add(answer["summary"])
                for n, result in zip(sent, answer["results"], strict=True):
                    if drafted.get(n) == "created" and result["status"] == "updated":
                        state.counts["created"] += 1  # new here: created as a draft, published with its files
                        state.counts["updated"] -= 1
                _report_rejections(answer["results"], [positions[n] for n in sent], err)
                if ends or with_files:  # remember the new ids for the 解读 of later batches (and a resumed run)
                    new_ids |= {r["external_id"]: r["document_id"] for r in answer["results"]
                                if r.get("document_id")}
            state.counts["created"] += sum(drafted[n] == "created" for n in held)
            state.batches += 1
            kept += [positions[n] for n in held]
            state.done = max(state.done, positions[-1] + 1)
            retry = [i for i in retry if i not in positions]
            _save_progress(path, digest, state.done, new_ids, sorted(set(retry) | set(kept)))
            _line(state, started, out, "batch")
    return 1 if state.counts["rejected"] or state.files["failed"] else 0


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
    parser.add_argument("--source-token-file", type=Path,
                        help="file holding a Bearer token for downloading attachments from the exporting platform "
                             "(default GONGKAI_SOURCE_TOKEN; none: public downloads)")
    parser.add_argument("--source-base-url", help="fetch attachments from this address instead of the one in the "
                                                  "export's download links (same paths)")
    parser.add_argument("--max-file-bytes", type=int, default=MAX_FILE_BYTES,
                        help=f"largest attachment downloaded (default {MAX_FILE_BYTES})")
    args = parser.parse_args(argv)
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get("GONGKAI_IMPORT_TOKEN")
    source_token = (args.source_token_file.read_text().strip() if args.source_token_file
                    else os.environ.get("GONGKAI_SOURCE_TOKEN"))
    try:
        return asyncio.run(run(args.file, url=args.url, token=token, batch_size=args.batch_size,
                               dry_run=args.dry_run, restart=args.restart, reviewer=args.reviewer,
                               source_token=source_token, source_base_url=args.source_base_url,
                               max_file_bytes=args.max_file_bytes))
    except ImportStopped as exc:
        print(f"import stopped: {exc} (run again to resume)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
