"""The gateway in front of two real catalogue processes (issue 17 item 1, 多实例): GATEWAY_CATALOG_URLS names both,
requests go round robin, an idempotent request whose connection is reset goes to the other instance, a POST without
an Idempotency-Key never goes twice, and a killed instance leaves the rotation (background /readyz probe) and comes
back when it is started again.

Each instance sits behind an in-test TCP proxy (tests/harness.TcpProxy) that counts the API exchanges it forwards
and can reset a connection after forwarding the request (CUT: the instance may well have done the work)."""

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from catalog_service.models import Document
from gateway.app import create_app
from gateway.config import GatewaySettings
from services.db import make_engine
from tests.catalog_service.helpers import new_code
from tests.gateway.conftest import STANDIN_SPECS, run_server
from tests.harness import CUT, PASS, ServiceProcess, TcpProxy, drop_database, free_port, new_database
from tests.support import auth

CATALOG = "/api/v1/catalog"


class Instances:
    """Two catalogue processes on one database, each behind its own TcpProxy."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.url = url
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CATALOG_DATABASE_URL": url,
               "CATALOG_ATTACHMENT_DIR": str(tmp / "attachments"), "CATALOG_CALENDAR_FEED_ENABLED": "false",
               "CATALOG_WEBHOOKS_ENABLED": "false", "CATALOG_ACCESS_LOG": "false", "CATALOG_LOG_LEVEL": "WARNING"}
        self.processes = [ServiceProcess(f"catalog-{n}", "catalog_service.app:app", free_port(), env,
                                         tmp / f"catalog-{n}.log") for n in ("a", "b")]
        self.proxies = [TcpProxy(p.port) for p in self.processes]
        self.seen: list[list[str]] = [[], []]  # "METHOD target" of every API exchange each instance was sent
        self.fault_next_posts = 0  # the next N POSTs (on either instance) are CUT
        self.cut_all = [False, False]  # every API exchange of that instance is CUT
        self._lock = threading.Lock()
        for n, proxy in enumerate(self.proxies):
            proxy.set_policy(self._policy(n))

    def _policy(self, n: int):
        def policy(exchange) -> str:
            if not exchange.target.startswith("/api/"):
                return PASS  # the gateway's health probes
            with self._lock:
                self.seen[n].append(f"{exchange.method} {exchange.target}")
                if exchange.method == "POST" and self.fault_next_posts > 0:
                    self.fault_next_posts -= 1
                    return CUT
                if self.cut_all[n]:
                    return CUT
            return PASS

        return policy

    def start(self) -> "Instances":
        for process in self.processes:
            process.start()
        for process in self.processes:
            process.wait_ready(timeout=120)
        for proxy in self.proxies:
            proxy.start()
        return self

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        for process in self.processes:
            process.stop()

    def reset(self) -> None:
        with self._lock:
            self.seen = [[], []]


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    tmp = tmp_path_factory.mktemp("instances")
    url = new_database("catalog", tmp)
    pair = Instances(tmp, url)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        drop_database(url)


async def gateway(stack, instances: Instances, **overrides) -> httpx.AsyncClient:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = GatewaySettings(catalog_urls=",".join(p.url for p in instances.proxies), request_url=dead,
                               stats_url=dead, access_log=False, rate_limit_per_second=0, connect_timeout=1,
                               health_interval_seconds=0.3, **overrides)
    app = create_app(settings, openapi_specs=STANDIN_SPECS, manage_logging=False)
    base = await stack.enter_async_context(run_server(app, lifespan="on"))
    client = httpx.AsyncClient(base_url=base, timeout=30)
    stack.push_async_callback(client.aclose)
    return client


async def documents_of(url: str, source_system: str) -> int:
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Document)
                                           .where(Document.source_system == source_system))).scalar_one())
    finally:
        await engine.dispose()


async def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_round_robin_failover_and_a_killed_instance(instances: Instances):
    async with AsyncExitStack() as stack:
        gw = await gateway(stack, instances)
        admin = auth("admin")

        # Balanced: both instances answer, in turn.
        instances.reset()
        for _ in range(8):
            assert (await gw.get(f"{CATALOG}/organs", headers=admin)).status_code == 200
        assert [len(s) for s in instances.seen] == [4, 4], instances.seen

        # One instance resets every connection after taking the request: idempotent requests are answered by
        # the other one (each at most one extra attempt).
        instances.reset()
        instances.cut_all = [True, False]
        for _ in range(6):
            r = await gw.get(f"{CATALOG}/organs", headers=admin)
            assert r.status_code == 200, r.text
        assert len(instances.seen[1]) == 6 and len(instances.seen[0]) <= 6
        instances.cut_all = [False, False]
        await asyncio.sleep(1.2)  # the cut instance was suspected after its failure; the probe brings it back

        # A POST without an Idempotency-Key whose connection is reset is answered 502 and never sent again: the
        # first instance may have created the organ.
        instances.reset()
        instances.fault_next_posts = 1
        r = await gw.post(f"{CATALOG}/organs", headers=admin, json={"code": new_code(), "name": "测试局",
                                                                   "kind": "department"})
        assert r.status_code == 502 and r.json()["code"] == "upstream_unavailable", r.text
        posts = [e for s in instances.seen for e in s if e.startswith("POST")]
        assert len(posts) == 1, posts

        # The same with an Idempotency-Key (the bulk import honours it): sent to the other instance, applied once.
        await asyncio.sleep(1.2)
        organ = new_code()
        assert (await gw.post(f"{CATALOG}/organs", headers=admin,
                              json={"code": organ, "name": "导入局", "kind": "department"})).status_code == 201
        instances.reset()
        instances.fault_next_posts = 1
        system = {**auth("integration", organ=organ, sub="oa-instances", name="公文系统"),
                  "Idempotency-Key": "instances-batch-1"}
        record = {"external_id": "OA-inst-1", "title": "关于做好多实例测试工作的通知", "genre": "notice",
                  "summary": "部署。", "body": "各部门：现将有关事项通知如下。"}
        r = await gw.post(f"{CATALOG}/documents/bulk", headers=system, json={"records": [record]})
        assert r.status_code == 200, r.text
        posts = [e for s in instances.seen for e in s if e.startswith("POST")]
        assert len(posts) == 2, posts
        assert await documents_of(instances.url, "oa-instances") == 1

        # Killed (kill -9): requests keep being answered by the other instance; the probe takes the dead one out
        # of the rotation and /readyz lists it as down while the service stays ready.
        instances.processes[0].kill()
        for _ in range(6):
            r = await gw.get(f"{CATALOG}/organs", headers=admin)
            assert r.status_code == 200, r.text

        async def dead_one_out() -> bool:
            body = (await gw.get("/readyz")).json()
            members = body["upstreams"]["catalog"].get("instances") or []
            return [m["ok"] for m in members] == [False, True]

        await wait_until(dead_one_out, 10, "the killed instance to leave the rotation")
        catalog = (await gw.get("/readyz")).json()["upstreams"]["catalog"]
        assert catalog["ok"] is True and catalog["url"].startswith(instances.proxies[1].url)
        instances.reset()
        for _ in range(4):  # out of the rotation: not even tried, so a POST without a key goes through too
            r = await gw.post(f"{CATALOG}/organs", headers=admin, json={"code": new_code(), "name": "新设局",
                                                                       "kind": "department"})
            assert r.status_code == 201, r.text
        assert Counter(len(s) for s in instances.seen) == Counter({0: 1, 4: 1}) and instances.seen[1]

        # Started again: back in the rotation by itself.
        instances.processes[0].start().wait_ready(timeout=120)
        instances.reset()

        async def both_serve() -> bool:
            await gw.get(f"{CATALOG}/organs", headers=admin)
            return all(instances.seen)

        await wait_until(both_serve, 15, "the restarted instance to rejoin the rotation")


def test_single_url_setting_still_works():
    settings = GatewaySettings(catalog_url="http://catalog:8000/")
    assert settings.upstream_pools()["catalog"] == ["http://catalog:8000"]
    several = GatewaySettings(catalog_urls="http://a:8000, http://b:8000/")
    assert several.upstream_pools()["catalog"] == ["http://a:8000", "http://b:8000"]
    assert GatewaySettings(catalog_urls='["http://a:8000"]').upstream_pools()["catalog"] == ["http://a:8000"]
    with pytest.raises(ValueError):
        GatewaySettings(catalog_urls="ftp://a")

