"""Network faults between the gateway and one service, made by an in-test TCP proxy (the kernel here has no
netem): answers held past the gateway's read timeout, requests swallowed, connections dropped, cut or refused,
answers truncated. The gateway must answer each with problem+json — 504 `upstream_timeout` for the slow, 502
`upstream_unavailable` for the broken — within its time limits, keep serving the other services meanwhile, and work
again as soon as the path heals. Every wait in here is bounded."""

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from request_service.models import Application
from tests.faults.support import ADMIN, REQUESTS, make_organ, query, wait_known_organ
from tests.harness import (
    BLACKHOLE,
    CUT,
    DELAY,
    DROP_REQUEST,
    STALL,
    TRUNCATE,
    System,
    TcpProxy,
    drop_database,
    new_databases,
)
from tests.request_service.intake_support import application_body
from tests.support import assert_problem, auth

pytestmark = pytest.mark.slow

READ_TIMEOUT = 1.0
CONNECT_TIMEOUT = 0.5
HELD = 3.0  # how long the proxy holds an answer: well past the gateway's read timeout
# "Ended at the gateway's timeout, nothing hung": the timeout plus slack a busy 2-core machine cannot exhaust; a
# hang runs into the clients' 30 s (20 s for the stalled upload), and a held answer that was awaited is a 200.
PROMPT = READ_TIMEOUT + 10
SLOW_PATH = f"{REQUESTS}/vocabularies"
OTHER_PATH = "/api/v1/catalog/vocabularies"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("network-faults")
    urls = new_databases(tmp, services=("catalog", "request"))
    system = System(tmp, urls, names=("catalog", "request", "gateway"),
                    env={"GATEWAY_READ_TIMEOUT": str(READ_TIMEOUT), "GATEWAY_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)})
    proxy = TcpProxy(system.ports["request"], delay=HELD, seed=4).start()
    system.route_gateway("request", proxy.url)
    try:
        with system:
            yield system, urls, proxy
    finally:
        proxy.stop()
        for url in urls.values():
            drop_database(url)


@pytest.fixture
async def client(system):
    _, _, proxy = system
    proxy.heal()
    async with httpx.AsyncClient(base_url=system[0].gateway, timeout=30) as client:
        yield client
    proxy.heal()


async def timed(client: httpx.AsyncClient, method: str, path: str, **kwargs) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path, **kwargs)
    return response, time.monotonic() - started


async def assert_healed(client: httpx.AsyncClient) -> None:
    """Once the path heals, the very next requests succeed: no broken pooled connection is handed out."""
    responses = await asyncio.gather(*(client.get(SLOW_PATH) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20, [r.text[:200] for r in responses if r.status_code != 200]


@pytest.mark.parametrize("fault", [DELAY, BLACKHOLE])
async def test_a_slow_service_is_a_504_within_the_read_timeout(system, client, fault):
    _, _, proxy = system
    proxy.set_policy(fault)
    # Many at once: every one of them ends at the read timeout, none waits for another.
    slow = asyncio.ensure_future(asyncio.gather(*(timed(client, "GET", SLOW_PATH) for _ in range(20))))
    other, _ = await timed(client, "GET", OTHER_PATH)
    assert other.status_code == 200 and not slow.done(), "another service must not wait on the slow one"
    for response, elapsed in await slow:
        body = assert_problem(response, 504, "upstream_timeout")
        assert body["upstream"] == "request"
        assert READ_TIMEOUT * 0.9 <= elapsed < PROMPT, elapsed
    proxy.heal()
    await assert_healed(client)


@pytest.mark.parametrize("fault", [DROP_REQUEST, CUT, TRUNCATE])
async def test_a_broken_connection_is_a_prompt_502(system, client, fault):
    _, _, proxy = system
    proxy.set_policy(fault)
    for _ in range(5):
        response, elapsed = await timed(client, "GET", SLOW_PATH)
        body = assert_problem(response, 502, "upstream_unavailable")  # not 504: no timeout was waited for
        assert body["upstream"] == "request" and elapsed < PROMPT, elapsed
    assert proxy.counts[fault] >= 5
    proxy.heal()
    await assert_healed(client)


async def test_a_refused_connection_is_a_prompt_502(system, client):
    _, _, proxy = system
    proxy.set_listening(False)
    try:
        for _ in range(5):
            response, elapsed = await timed(client, "GET", SLOW_PATH)
            assert_problem(response, 502, "upstream_unavailable")  # refused at once: not a connect timeout (504)
            assert elapsed < PROMPT, elapsed
    finally:
        proxy.set_listening(True)
    await assert_healed(client)


async def test_a_create_whose_answer_timed_out_is_replayed_not_repeated(system, client):
    """The gateway gives up (504) while the service commits; the client's retry with the same Idempotency-Key
    gets the first response, and there is still one application."""
    _, urls, proxy = system
    organ = await make_organ(client)
    await wait_known_organ(urls["request"], organ)
    clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}")
    headers = {**clerk, "Idempotency-Key": str(uuid.uuid4())}
    body = application_body(channel="in_person")

    proxy.set_policy(lambda e: DELAY if e.method == "POST" else "pass")
    response, _ = await timed(client, "POST", f"{REQUESTS}/applications/register", headers=headers, json=body)
    assert_problem(response, 504, "upstream_timeout")
    proxy.heal()
    retry = await client.post(f"{REQUESTS}/applications/register", headers=headers, json=body)
    assert retry.status_code == 201 and retry.headers.get("idempotent-replayed") == "true", retry.text
    [held] = [r for r in proxy.faulted(DELAY) if r.exchange.idempotency_key == headers["Idempotency-Key"]]
    assert held.status == 201
    rows = await query(urls["request"], select(Application.id).where(Application.organ_code == organ))
    assert [row[0] for row in rows] == [retry.json()["id"]]


async def test_a_flapping_path_never_hangs_and_every_answer_is_a_status_or_a_problem(system, client):
    """A mix of every fault on a share of the exchanges, many clients at once: every request ends within the
    gateway's limits with 200, 502 or 504 (problem+json), and the directory write path stays consistent."""
    sys_, _, proxy = system
    proxy.set_policy(proxy.random_faults(0.5, (DELAY, BLACKHOLE, DROP_REQUEST, CUT, TRUNCATE)))
    # A connection per request: the time measured is the gateway's, not a wait for the client's pool. A request
    # that hung would raise at the client's 30 s timeout.
    async with httpx.AsyncClient(base_url=sys_.gateway, timeout=30, limits=httpx.Limits(max_connections=150)) as many:
        results = await asyncio.gather(*(timed(many, "GET", SLOW_PATH) for _ in range(150)))
    statuses = {r.status_code for r, _ in results}
    assert statuses <= {200, 502, 504} and {200, 502, 504} <= statuses, statuses
    for response, elapsed in results:
        assert elapsed < PROMPT, elapsed
        if response.status_code != 200:
            assert_problem(response, response.status_code)
    proxy.heal()
    await assert_healed(client)
    assert (await client.get(f"{REQUESTS}/vocabularies", headers=ADMIN)).status_code == 200


def test_no_errors_were_logged(system):
    """Runs last in this module: the faults above made warnings at most — no 500, no unhandled exception."""
    assert system[0].errors_logged() == []


@pytest.mark.parametrize("size", [64 * 1024, 20 * 1024 * 1024])
async def test_a_service_that_stops_reading_an_upload_is_a_504_not_a_hang(system, client, size):
    """The service takes the request's head and then reads nothing more: a large body fills the socket buffers
    and the gateway's write blocks. The gateway must still give up within its read timeout."""
    _, _, proxy = system
    proxy.set_policy(lambda e: STALL if e.method == "POST" else "pass")
    started = time.monotonic()
    try:
        r = await asyncio.wait_for(client.post(f"{REQUESTS}/applications", content=b"x" * size,
                                               headers={"Content-Type": "application/json"}), timeout=20)
    except TimeoutError:
        pytest.fail(f"the gateway hung for {time.monotonic() - started:.0f} s on a stalled upload")
    elapsed = time.monotonic() - started
    assert_problem(r, 504, "upstream_timeout")
    assert elapsed < PROMPT, elapsed
    proxy.heal()
    await assert_healed(client)
