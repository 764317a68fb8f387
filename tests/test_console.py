"""A quiet console (issue 14 item 10): `make run` showed 1,473 feed-poll lines out of 2,122 in five minutes, and
tracebacks while the services waited for each other.

Real processes on databases of their own, logging at INFO with access logs on (as `make run` does): the statistics
service starts while the catalogue is not up (its upstream), and polls the request service's feed many times.
- the polls are routine: no INFO line for them, neither the producer's access line nor the consumer's HTTP client;
- waiting for an upstream that is not there yet is one readable warning line, never a traceback, and not a line
  per poll.
"""

import json
import time
from pathlib import Path

from tests.harness import System, drop_database, new_databases


def records(path: Path) -> tuple[list[dict], list[str]]:
    parsed, raw = [], []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            raw.append(line)
            continue
        if isinstance(record, dict):
            parsed.append(record)
    return parsed, raw


def test_polls_are_quiet_and_waiting_for_an_upstream_is_one_line(tmp_path: Path):
    urls = new_databases(tmp_path, services=("request", "stats"))
    system = System(tmp_path, {**urls, "catalog": "sqlite+aiosqlite:///unused.db"}, names=("request", "stats"), env={
        **{f"{p}_ACCESS_LOG": "true" for p in ("REQUEST", "STATS")},
        **{f"{p}_LOG_LEVEL": "INFO" for p in ("REQUEST", "STATS")},
        "STATS_CONSUMER_IDLE_SECONDS": "0.1"})
    try:
        with system:
            time.sleep(3)  # ~30 polls of each feed (idle 0.1 s)
    finally:
        system.stop()
        for url in urls.values():
            drop_database(url)
    request_log, _ = records(system["request"].log_path)
    stats_log, stats_raw = records(system["stats"].log_path)
    loud = [r for r in request_log + stats_log
            if r.get("level") not in ("debug",) and ("/internal/v1/events" in r.get("msg", "")
                                                     or "HTTP Request" in r.get("msg", ""))]
    assert not loud, loud[:5]
    assert not [line for line in stats_raw if line.startswith("Traceback")], stats_raw[:20]
    assert not [r for r in stats_log if r.get("exc")], [r for r in stats_log if r.get("exc")][:2]
    waiting = [r for r in stats_log if r.get("level") == "warning" and "catalog" in r.get("msg", "")]
    assert 1 <= len(waiting) <= 2, waiting  # said once (not per poll), and readable


def test_the_console_format_is_one_readable_line():
    import logging

    from services.observability import ConsoleFormatter

    record = logging.LogRecord("gongkai.access", logging.INFO, __file__, 1, "%s %s %s",
                               ("GET", "/api/v1/catalog/documents", 200), None)
    record.fields = {"duration_ms": 12.4}
    line = ConsoleFormatter("catalog").format(record)
    assert "\n" not in line and line.endswith("catalog  INFO    GET /api/v1/catalog/documents 200 12 ms"), line
