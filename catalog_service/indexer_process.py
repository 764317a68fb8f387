"""索引进程 · the host's search indexer process: writes the shared search index (CATALOG_SEARCH_INDEX_DIR) that every
catalogue web process of the host reads (domain/indexer.py IndexReader).

Every web process starts one (`python -m catalog_service.indexer_process`, with the web process's pid); the first
to take the directory's lock indexes, the others wait as standbys and take over when it dies. Each exits when the
web process that started it is gone, so nothing outlives the service.

    CATALOG_DATABASE_URL=… python -m catalog_service.indexer_process --index-dir DIR [--interval 0.5] [--parent PID]
                                                                     [--analysis-processes 1]
"""

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import time
from pathlib import Path

from catalog_service.domain.indexer import LOCK_FILE, SearchEngine
from services.db import Database, make_engine
from services.observability import configure_logging

log = logging.getLogger("gongkai.catalog.indexer")
STANDBY_POLL_SECONDS = 0.5


def _parent_gone(parent: int | None) -> bool:
    return parent is not None and os.getppid() != parent


def _take_lock(base: Path, parent: int | None) -> object | None:
    """The directory's lock, waiting as a standby while another indexer process holds it; None when the parent is
    gone or a stop signal came first."""
    base.mkdir(parents=True, exist_ok=True)
    handle = open(base / LOCK_FILE, "a+")
    while not _parent_gone(parent):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.truncate(0)  # which process writes, for operators (and the take-over test)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            return handle
        except BlockingIOError:
            time.sleep(STANDBY_POLL_SECONDS)
    handle.close()
    return None


async def _index(base: Path, database_url: str, interval: float, parent: int | None,
                 analysis_processes: int = 1) -> None:
    database = Database(make_engine(database_url, pool_size=2))
    engine = SearchEngine(database, base, analysis_processes=analysis_processes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_parent() -> None:
        while not stop.is_set():
            if _parent_gone(parent):
                stop.set()
            await asyncio.sleep(STANDBY_POLL_SECONDS)

    watcher = asyncio.create_task(watch_parent())
    try:
        await engine.start()
        log.info("search indexer writing %s (position %s)", base,
                 engine.index.position if engine.index else "not built")
        await engine.run(stop, interval)
    finally:
        watcher.cancel()
        engine.close()
        await database.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--parent", type=int, default=None, help="exit when this process is no longer our parent")
    ap.add_argument("--analysis-processes", type=int, default=1,
                    help="processes folding and cutting records into tokens (1: this one)")
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--log-format", default="json", choices=("json", "console"))
    args = ap.parse_args()
    configure_logging("catalog-indexer", args.log_level, args.log_format)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))  # while a standby
    try:
        lock = _take_lock(Path(args.index_dir), args.parent)
    except SystemExit:
        return
    if lock is None:
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    asyncio.run(_index(Path(args.index_dir), os.environ["CATALOG_DATABASE_URL"], args.interval, args.parent,
                       max(1, args.analysis_processes)))


if __name__ == "__main__":
    main()
