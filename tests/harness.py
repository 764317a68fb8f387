"""Real processes and real sockets for the fault tests (tests/faults/): each service and the gateway as its own
uvicorn subprocess (so one can be killed with SIGKILL and started again), fresh migrated databases, a throwaway
PostgreSQL cluster the test controls, and an in-test TCP proxy that drops, cuts and delays HTTP exchanges (the
kernel here has no netem).

Everything here is synchronous or runs on its own thread, so both sync and async tests can use it; conditions are
polled with a deadline (`wait_for`), never slept on.
"""

import asyncio
import collections
import itertools
import json
import os
import random
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text

from services.db import make_engine
from tests.support import ROOT, SERVICES, backend, migrate, postgres_admin_url

__all__ = ["FAULTS", "Exchange", "PgCluster", "PgStandby", "ServiceProcess", "System", "TcpProxy", "drop_database",
           "free_port", "new_database", "new_databases", "postgres_binaries_available", "primary_and_standby",
           "proxied", "run_sync", "wait_for"]

T = TypeVar("T")
TARGETS = {"catalog": "catalog_service.app:app", "request": "request_service.app:app",
           "stats": "stats_service.app:app", "gateway": "gateway.app:app"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy (returned) or the deadline passes (AssertionError).
    Exceptions from the predicate count as "not yet" (a process still starting), the last one is reported."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # "not yet"
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f" (last error: {last!r})" if last else ""))
        time.sleep(interval)


def run_sync(coro: Any) -> Any:
    """Run a coroutine to completion from synchronous code (fixtures), on a private loop."""
    return asyncio.run(coro)


# --- databases ---------------------------------------------------------------------------------------------------

def _pg_url(admin_url: str, name: str) -> str:
    url = admin_url if "+asyncpg" in admin_url else admin_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{url.rsplit('/', 1)[0]}/{name}"


async def _pg_admin(admin_url: str, sql: str) -> None:
    engine = make_engine(_pg_url(admin_url, admin_url.rsplit("/", 1)[1]), null_pool=True)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _pg_scalar(admin_url: str, sql: str) -> Any:
    engine = make_engine(_pg_url(admin_url, admin_url.rsplit("/", 1)[1]), null_pool=True)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


def new_database(service: str, tmp_dir: Path, *, label: str | None = None, admin_url: str | None = None,
                 postgres: bool | None = None) -> str:
    """A fresh database for `service` (migrated to head) on the suite's backend, or on the PostgreSQL at
    `admin_url`. Fault tests commit for real, so they never share the session's databases with other tests.
    Call from synchronous code: Alembic runs its own event loop."""
    use_pg = (backend() == "postgres") if postgres is None else postgres
    if use_pg:
        admin = admin_url or postgres_admin_url()
        name = f"gk_fault_{label or service}_{uuid.uuid4().hex[:8]}"
        run_sync(_pg_admin(admin, f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                                  "LC_CTYPE 'C.UTF-8'"))
        url = _pg_url(admin, name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_dir / f'{label or service}-{uuid.uuid4().hex[:6]}.db'}"
    migrate(service, url)
    return url


def drop_database(url: str, *, admin_url: str | None = None) -> None:
    if url.startswith("postgresql"):
        admin = admin_url or postgres_admin_url()
        with suppress(Exception):  # best effort: the cluster may already be gone
            run_sync(_pg_admin(admin, f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))


def new_databases(tmp_dir: Path, *, admin_url: str | None = None, postgres: bool | None = None,
                  services: Iterable[str] = SERVICES) -> dict[str, str]:
    return {s: new_database(s, tmp_dir, admin_url=admin_url, postgres=postgres) for s in services}


# --- processes ---------------------------------------------------------------------------------------------------

class ServiceProcess:
    """One uvicorn process in its own process group (so SIGKILL takes nothing else with it)."""

    def __init__(self, name: str, target: str, port: int, env: dict[str, str], log_path: Path) -> None:
        self.name, self.target, self.port, self.env, self.log_path = name, target, port, env, log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "ServiceProcess":
        assert not self.alive, f"{self.name} is already running"
        cmd = [sys.executable, "-m", "uvicorn", self.target, "--host", "127.0.0.1", "--port", str(self.port),
               "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "2", "--no-proxy-headers"]
        with self.log_path.open("a") as log:
            log.write(f"\n=== start #{self.starts + 1} of {self.name} on :{self.port} ===\n")
            log.flush()
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.starts += 1
        return self

    def wait_ready(self, *, timeout: float = 60.0, path: str = "/healthz") -> "ServiceProcess":
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return httpx.get(f"{self.url}{path}", timeout=1.0).status_code == 200

        deadline = time.monotonic() + timeout
        while True:
            try:
                if up():
                    return self
            except RuntimeError:
                raise
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready within {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, open transactions and sockets die with the process."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, *, timeout: float = 60.0) -> "ServiceProcess":
        self.stop()
        return self.start().wait_ready(timeout=timeout)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


class System:
    """The services and the gateway as separate processes on free ports, wired together by URL.

    `upstreams` replaces the URL the gateway uses for a service (to put a TcpProxy in between); `env` adds to or
    overrides the environment of every process. Extra processes (a second stats service on a fresh database, for
    a clean rebuild) come from `spawn`."""

    def __init__(self, workdir: Path, database_urls: dict[str, str], *, env: dict[str, str] | None = None,
                 upstreams: dict[str, str] | None = None,
                 names: Iterable[str] = ("catalog", "request", "stats", "gateway")) -> None:
        self.workdir = workdir
        self.names = list(names)
        self.ports = {n: free_port() for n in ("catalog", "request", "stats", "gateway")}
        urls = {n: f"http://127.0.0.1:{p}" for n, p in self.ports.items()}
        gateway_urls = {**urls, **(upstreams or {})}
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CATALOG_DATABASE_URL": database_urls["catalog"], "REQUEST_DATABASE_URL": database_urls["request"],
            "STATS_DATABASE_URL": database_urls.get("stats", ""),
            "GATEWAY_CATALOG_URL": gateway_urls["catalog"], "GATEWAY_REQUEST_URL": gateway_urls["request"],
            "GATEWAY_STATS_URL": gateway_urls["stats"],
            "STATS_CATALOG_URL": urls["catalog"], "STATS_REQUEST_URL": urls["request"],
            "REQUEST_CATALOG_URL": urls["catalog"], "CATALOG_REQUEST_URL": urls["request"],
            "CATALOG_ATTACHMENT_DIR": str(workdir / "attachments"),
            # Quick feeds, so a test waits on the condition rather than on an interval.
            "REQUEST_ORGAN_FEED_INTERVAL_SECONDS": "0.2", "CATALOG_CALENDAR_FEED_INTERVAL_SECONDS": "1",
            "STATS_CONSUMER_IDLE_SECONDS": "0.1",
            "GATEWAY_CONNECT_TIMEOUT": "1", "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
            "GATEWAY_ACCESS_LOG": "false",
            **{f"{p}_ACCESS_LOG": "false" for p in ("CATALOG", "REQUEST", "STATS")},
            **{f"{p}_LOG_LEVEL": "WARNING" for p in ("CATALOG", "REQUEST", "STATS", "GATEWAY")},
            **(env or {}),
        }
        self.processes: dict[str, ServiceProcess] = {
            n: ServiceProcess(n, TARGETS[n], self.ports[n], self.env, workdir / f"{n}.log") for n in self.names}

    def route_gateway(self, name: str, url: str) -> None:
        """Send the gateway's traffic for service `name` to `url` (a TcpProxy in front of it); before start()."""
        self.env[f"GATEWAY_{name.upper()}_URL"] = url

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, *, timeout: float = 90.0) -> "System":
        for proc in self.processes.values():  # all at once: the imports run in parallel
            proc.start()
        try:
            for proc in self.processes.values():
                proc.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def spawn(self, name: str, kind: str, env: dict[str, str]) -> ServiceProcess:
        """Another process of service `kind` (e.g. a second stats service on its own database)."""
        proc = ServiceProcess(name, TARGETS[kind], free_port(), {**self.env, **env}, self.workdir / f"{name}.log")
        self.processes[name] = proc
        return proc.start()

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()

    def errors_logged(self) -> list[str]:
        """Log lines at ERROR or above (the services log JSON lines), and tracebacks printed outside the logger:
        under faults a service may warn, but an error means a 500 or a crash somewhere."""
        found = []
        for proc in self.processes.values():
            try:
                lines = proc.log_path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    if line.startswith("Traceback"):
                        found.append(f"{proc.name}: {line}")
                    continue
                if isinstance(record, dict) and str(record.get("level", "")).lower() in ("error", "critical"):
                    exc = str(record.get("exc", "")).strip().splitlines()
                    found.append(f"{proc.name}: {record.get('msg')} {exc[-1] if exc else ''}")
        return found

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log_tail(2000)}" for n, p in self.processes.items())

    def __enter__(self) -> "System":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a PostgreSQL cluster the test may crash ---------------------------------------------------------------------

class PgCluster:
    """A throwaway cluster from scripts/pg_cluster.sh that the test controls: `restart_immediate` is a crash
    (`pg_ctl restart -m immediate`: no checkpoint, every backend killed, crash recovery on start).

    pg_cluster.sh starts with synchronous_commit=off, which is fine for throwaway suites but means an immediate
    shutdown may lose the last acknowledged commits (the WAL writer had not written them yet) — a first run of the
    crash test saw exactly that: a 201 for an application that was gone after the restart. The system cannot
    survive a database that forgets acknowledged commits, and production does not run so, so commits are made
    synchronous here (fsync stays off: the machine itself does not crash, the OS page cache survives)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.data = directory / "data"
        initdb = _pg_bin()
        self.bin = initdb.parent
        self.admin_url = ""

    def start(self) -> "PgCluster":
        out = subprocess.run([str(ROOT / "scripts" / "pg_cluster.sh"), "start", str(self.directory), str(self.port)],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"pg_cluster.sh start failed: {out.stderr}")
        self.admin_url = out.stdout.strip().splitlines()[-1]
        # Per role, not ALTER SYSTEM: pg_cluster.sh passes synchronous_commit=off on the command line, which beats
        # the configuration files (and `pg_ctl restart` passes it again); role settings beat the command line.
        run_sync(_pg_admin(self.admin_url, "ALTER ROLE ALL SET synchronous_commit = on"))
        setting = run_sync(_pg_scalar(self.admin_url, "SHOW synchronous_commit"))
        assert setting == "on", f"synchronous_commit is {setting}: a crash could lose acknowledged commits"
        return self

    def _pg_ctl(self, *args: str, timeout: float = 90) -> None:
        # Output to a file, never a pipe: a postmaster started by pg_ctl inherits its stdout, and a pipe would
        # then stay open (and subprocess.run wait for its end) for as long as the server runs.
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"), *args]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        log = self.directory / "pg_ctl.out"
        with log.open("a") as out:
            code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        if code != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed ({code}): {log.read_text()[-2000:]}")

    def stop_immediate(self) -> None:
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def start_again(self) -> None:
        # pg_ctl start without -o would lose pg_cluster.sh's options (port, socket dir): reuse postmaster.opts.
        opts = (self.data / "postmaster.opts").read_text().split(None, 1)[1] if (
            self.data / "postmaster.opts").exists() else ""
        self._pg_ctl("start", "-w", "-t", "60", "-o", _strip_binary_opts(opts))

    def restart_immediate(self) -> None:
        self._pg_ctl("restart", "-m", "immediate", "-w", "-t", "60")

    def destroy(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg_cluster.sh"), "stop", str(self.directory)], capture_output=True,
                       timeout=120)



class PgStandby:
    """A streaming standby of a PgCluster (issue 17: read replicas), from the same PostgreSQL 15 binaries.

    `pg_basebackup -R -C -S <slot>`: a copy of the primary's data directory with `primary_conninfo` and
    `standby.signal` written for us, and a physical replication slot on the primary so the WAL the standby still
    needs is kept while it is stopped. `apply_delay` sets `recovery_min_apply_delay`: the standby receives the WAL
    at once but applies each commit only that long after it was made — a replica seconds behind, on demand
    (issue 17 item 3). Hot standby: it answers read-only queries, as a production replica does."""

    def __init__(self, primary: PgCluster, directory: Path, port: int, *, apply_delay: str | None = None,
                 slot: str = "gongkai_standby") -> None:
        self.primary, self.directory, self.port, self.apply_delay, self.slot = (primary, directory, port,
                                                                                 apply_delay, slot)
        self.data = directory / "data"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        full = [*cmd]
        if os.getuid() == 0:  # as pg_cluster.sh: the server and its files belong to `postgres`
            full = ["runuser", "-u", "postgres", "--", *full]
        log = self.directory / "standby.out"
        with log.open("a") as out:
            code = subprocess.run(full, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        if code != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {log.read_text()[-2000:]}")

    def create(self) -> "PgStandby":
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._run(_pg_tool(self.primary.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.data), "-R", "-C", "-S", self.slot, "-X", "stream",
                  "-c", "fast")
        if self.apply_delay:
            with (self.data / "postgresql.auto.conf").open("a") as conf:
                conf.write(f"recovery_min_apply_delay = '{self.apply_delay}'\n")
        return self.start()

    def start(self) -> "PgStandby":
        opts = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c hot_standby=on "
                "-c fsync=off -c max_connections=300")
        self._run(_pg_tool(self.primary.bin, "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"),
                  "-w", "-t", "60", "start", "-o", opts)
        return self

    def stop(self) -> None:
        self._run(_pg_tool(self.primary.bin, "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database_url: str) -> str:
        """The same database (by name) on this standby."""
        return _pg_url(self.admin_url, database_url.rsplit("/", 1)[1])

    def replay_lsn(self) -> int:
        """asyncpg gives a pg_lsn as its integer position in the WAL."""
        return int(run_sync(_pg_scalar(self.admin_url, "SELECT pg_last_wal_replay_lsn()")))

    def wait_caught_up(self, *, timeout: float = 60.0) -> None:
        """Until everything the primary has written so far is applied here (an apply delay makes that long)."""
        target = int(run_sync(_pg_scalar(self.primary.admin_url, "SELECT pg_current_wal_lsn()")))
        wait_for(lambda: self.replay_lsn() >= target, timeout=timeout, interval=0.2,
                 what=f"the standby to replay up to {target}")

    def destroy(self) -> None:
        with suppress(Exception):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _pg_tool(bin_dir: Path, name: str) -> str:
    """A server tool beside initdb, else in the versioned directory (/usr/lib/postgresql/15/bin), else on PATH."""
    for candidate in (bin_dir / name, *sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"no PostgreSQL tool {name}")
    return found


@contextmanager
def primary_and_standby(*, apply_delay: str | None = None) -> Iterator[tuple[PgCluster, PgStandby]]:
    """A throwaway primary (scripts/pg_cluster.sh; wal_level=replica is PostgreSQL 15's default, and initdb's
    pg_hba trusts replication from 127.0.0.1) and a streaming standby of it, on free ports under /tmp; both torn
    down afterwards. Databases made on the primary before the standby is created are on it at once."""
    directory = Path(tempfile.mkdtemp(prefix="gk-replicas.", dir="/tmp"))
    directory.chmod(0o755)
    primary = PgCluster(directory / "primary", free_port())
    standby = PgStandby(primary, directory / "standby", free_port(), apply_delay=apply_delay)
    try:
        primary.start()
        yield primary, standby
    finally:
        standby.destroy()
        primary.destroy()
        shutil.rmtree(directory, ignore_errors=True)


def _strip_binary_opts(opts: str) -> str:
    # postmaster.opts is `"/usr/lib/postgresql/15/bin/postgres" "-D" "dir" "-p" "5439" …`: keep what follows -D dir.
    parts = shlex.split(opts)
    out, skip = [], False
    for part in parts:
        if skip:
            skip = False
            continue
        if part == "-D":
            skip = True
            continue
        out.append(part)
    return " ".join(shlex.quote(p) for p in out)


def _pg_bin() -> Path:
    found = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if (Path(p) / "initdb").exists()]
    if found:
        return found[0] / "initdb"
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise FileNotFoundError("no PostgreSQL server binaries (initdb)")
    return candidates[-1]


def postgres_binaries_available() -> bool:
    try:
        _pg_bin()
    except FileNotFoundError:
        return False
    return True


# --- the TCP proxy -----------------------------------------------------------------------------------------------

PASS = "pass"
DROP_REQUEST = "drop_request"    # the connection is cut before the request is forwarded: the server never sees it
DROP_RESPONSE = "drop_response"  # the request is served, the whole answer is read (and kept), the client is cut
CUT = "cut"                      # the request is forwarded, then both sides are cut at once: a race with the server
DELAY = "delay"                  # the answer is held for `delay` seconds, then passed on (if anyone still listens)
BLACKHOLE = "blackhole"          # the request is swallowed: no answer ever, until the client gives up
TRUNCATE = "truncate"            # the head and half the body of the answer are passed on, then both sides are cut
STALL = "stall"                  # after the request's head nothing more is read: a large body fills the buffers
FAULTS = (PASS, DROP_REQUEST, DROP_RESPONSE, CUT, DELAY, BLACKHOLE, TRUNCATE, STALL)


@dataclass
class Exchange:
    """One HTTP request on a proxied connection, as the fault policy sees it."""

    seq: int
    method: str
    target: str
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class ProxyRecord:
    exchange: Exchange
    fault: str
    status: int | None = None
    response: bytes | None = None  # the answer the client never got (DROP_RESPONSE)


class _Message:
    __slots__ = ("raw", "start", "headers", "keep_alive")

    def __init__(self, raw: bytes, start: str, headers: dict[str, str], keep_alive: bool) -> None:
        self.raw, self.start, self.headers, self.keep_alive = raw, start, headers, keep_alive


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise


async def _read_message(reader: asyncio.StreamReader, *, response: bool, method: str = "GET",
                        head: bytes | None = None) -> _Message | None:
    """One HTTP/1.1 message, raw bytes and parsed head (`head`: already read); None at a clean EOF first."""
    if head is None:
        head = await _read_head(reader)
        if head is None:
            return None
    start, headers = _parse_head(head)
    version = start.split(" ", 1)[0] if response else start.rsplit(" ", 1)[-1]
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    body = b""
    status = int(start.split(" ")[1]) if response else 0
    no_body = response and (method == "HEAD" or status in (204, 304) or 100 <= status < 200)
    if not no_body:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                parts.append(size_line)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers, then the empty line
                        line = await reader.readuntil(b"\r\n")
                        parts.append(line)
                        if line == b"\r\n":
                            break
                    break
                parts.append(await reader.readexactly(size + 2))
            body = b"".join(parts)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif response:
            body = await reader.read()  # delimited by the close
            keep_alive = False
    return _Message(head + body, start, headers, keep_alive)


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head[:-4].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _abort(writer: asyncio.StreamWriter | None, *, reset: bool = True) -> None:
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if reset and sock is not None:
        with suppress(OSError):  # SO_LINGER 0: close() sends RST, as a broken network path would look
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """An HTTP-aware TCP proxy on its own thread and event loop, between a client and an upstream.

    Each request on each connection is one Exchange; `policy(exchange)` names its fault (see FAULTS) and may be
    replaced at any time (`heal()` sets PASS for everything). Every exchange with a fault is recorded in
    `records`; a DROP_RESPONSE record keeps the answer the client never received, so a test can compare a replay
    with it byte for byte. `set_listening(False)` closes the listening socket: new connections are refused."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1", delay: float = 5.0,
                 cut_after: tuple[float, float] = (0.0, 0.03), seed: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.delay = delay
        self.cut_after = cut_after
        self.policy: Callable[[Exchange], str] = lambda _exchange: PASS
        self.records: list[ProxyRecord] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control (from the test's thread) -----------------------------------------------------------------------

    def start(self) -> "TcpProxy":
        self._thread.start()
        self.set_listening(True)
        return self

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def set_listening(self, listening: bool) -> None:
        """False: the port is closed (new connections are refused) and open connections are cut, as when the
        service's host goes away; True: accept again."""
        self._call(self._listen(listening))
        if not listening:
            self.cut_all()

    async def _listen(self, listening: bool) -> None:
        if listening and self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        elif not listening and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def set_policy(self, policy: Callable[[Exchange], str] | str) -> None:
        self.policy = (lambda _e: policy) if isinstance(policy, str) else policy

    def heal(self) -> None:
        """Pass everything from now on (connections already cut stay cut; held answers are still delivered)."""
        self.set_policy(PASS)

    def cut_all(self) -> None:
        """Cut every open connection now (both sides)."""
        self._call(self._cut_all())

    async def _cancel_handlers(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cut_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)

    def random_faults(self, share: float, faults: tuple[str, ...], *, only: Callable[[Exchange], bool] | None = None
                      ) -> Callable[[Exchange], str]:
        """A policy giving a seeded-random fault from `faults` to `share` of the exchanges (that match `only`)."""
        def policy(exchange: Exchange) -> str:
            if only is not None and not only(exchange):
                return PASS
            return self._random.choice(faults) if self._random.random() < share else PASS
        return policy

    def stop(self) -> None:
        with suppress(Exception):
            self._call(self._listen(False))
            self._call(self._cut_all())
            self._call(self._cancel_handlers())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        with suppress(Exception):
            self._loop.close()

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def faulted(self, fault: str) -> list[ProxyRecord]:
        with self._lock:
            return [r for r in self.records if r.fault == fault]

    # -- the proxy itself (on its loop) -------------------------------------------------------------------------

    def _record(self, record: ProxyRecord) -> None:
        with self._lock:
            self.records.append(record)
            self.counts[record.fault] += 1

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        up_w: asyncio.StreamWriter | None = None
        graceful = False
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
            self._writers.add(up_w)
            while True:
                head = await _read_head(client_r)
                if head is None:
                    graceful = True
                    break
                start, headers = _parse_head(head)
                method, target = (start.split(" ") + ["", ""])[:2]
                exchange = Exchange(next(self._seq), method, target, headers)
                fault = self.policy(exchange)
                self.counts["exchanges"] += 1
                if fault == STALL:
                    self._record(ProxyRecord(exchange, fault))
                    await client_w.wait_closed()  # never read on: until the connection is cut
                request = await _read_message(client_r, response=False, head=head)
                assert request is not None
                if fault == DROP_REQUEST:
                    self._record(ProxyRecord(exchange, fault))
                    return
                if fault == BLACKHOLE:
                    self._record(ProxyRecord(exchange, fault))
                    await client_r.read()  # until the client gives up and closes
                    return
                up_w.write(request.raw)
                await up_w.drain()
                if fault == CUT:
                    self._record(ProxyRecord(exchange, fault))
                    await asyncio.sleep(self._random.uniform(*self.cut_after))
                    return
                response = await _read_message(up_r, response=True, method=method)
                if response is None:  # the upstream hung up without answering: so do we
                    return
                status = int(response.start.split(" ")[1])
                if fault == DROP_RESPONSE:
                    self._record(ProxyRecord(exchange, fault, status, response.raw))
                    return
                if fault == DELAY:
                    self._record(ProxyRecord(exchange, fault, status))
                    await asyncio.sleep(self.delay)
                if fault == TRUNCATE:
                    self._record(ProxyRecord(exchange, fault, status, response.raw))
                    head_end = response.raw.index(b"\r\n\r\n") + 4
                    client_w.write(response.raw[:head_end + (len(response.raw) - head_end) // 2])
                    await client_w.drain()
                    graceful = True  # FIN after the partial answer: an RST could discard it unread
                    return
                client_w.write(response.raw)
                await client_w.drain()
                if not (request.keep_alive and response.keep_alive):
                    graceful = True
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # either side went away: the other side is cut below, as a real middlebox would
        except asyncio.CancelledError:
            pass  # the proxy is stopping (a top-level connection task: nothing awaits its result)
        finally:
            if graceful:
                client_w.close()
            else:
                _abort(client_w)
            _abort(up_w)
            self._writers.discard(client_w)
            if up_w is not None:
                self._writers.discard(up_w)


@contextmanager
def proxied(upstream_port: int, **kwargs: Any) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_port, **kwargs).start()
    try:
        yield proxy
    finally:
        proxy.stop()
