"""机构改革: the catalogue re-parents an organ with one organ.updated event (new parent_code) and does not announce
its subordinates again. The statistics' organ mirror rewrites the moved organ's whole subtree, so roll-ups
(include_subordinates), dashboards by organ and organ-scope checks follow the current hierarchy — for past years
too — while a published report keeps its frozen figures and lists the move's effect as discrepancies."""

from sqlalchemy import delete, select

from request_service.clients import make_catalog_client
from request_service.config import Settings as RequestSettings
from request_service.domain.organs import apply_organ_events, subtree_codes
from request_service.feeds import ORGAN_FEED
from request_service.models import outbox as request_outbox
from services.outbox import FeedConsumer
from stats_service.config import Settings as StatsSettings
from stats_service.consumers import HttpFeed, make_consumers
from stats_service.domain.ingest import apply_catalog_events, organ_paths
from stats_service.models import OrganFact, outbox
from tests.catalog_service.helpers import make_organ
from tests.stats_service.helpers import Apps, Feed, Forward, drain, organ
from tests.support import auth

API = "/api/v1/stats"
CITY, DEPT, STREET, COMMUNITY, OTHER = ("11440100MS0000001A", "11440100MS0000002B", "11440100MS0000003C",
                                        "11440100MS0000004D", "11440100MS0000009Z")


def move(catalog: Feed, code: str, parent: str | None, version: int) -> None:
    """organ.updated for the moved organ only, with the entity id and payload of its creation event."""
    created = next(e for e in catalog.events if e.entity_type == "organ" and e.payload["code"] == code)
    catalog.add("organ.updated", "organ", created.entity_id, version, {**created.payload, "parent_code": parent})


async def stored_paths(db) -> dict[str, str]:
    async with db.transaction(write=False) as session:
        return dict((await session.execute(select(OrganFact.code, OrganFact.path))).all())


def received(report: dict) -> int:
    return report["section3"]["rows"]["new_received"]["total"]


async def scenario(stats_db) -> tuple[Feed, Feed]:
    """示例市 → 财政局 → 街道 → 社区; 示例市 → 教育局. One 2025 application per organ below the city."""
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, STREET, "示例街道", "township_street", parent=DEPT)
    organ(catalog, COMMUNITY, "示例社区", "township_street", parent=STREET)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    apps = Apps(requests)
    for code in (DEPT, STREET, COMMUNITY, OTHER):
        a = apps.put(organ_code=code, receipt_date="2025-03-03", due_on="2025-03-31")
        apps.put(a, status="replied", closed_on="2025-03-20", outcome="granted")
    await drain(stats_db, catalog, requests)
    return catalog, requests


async def test_a_move_rewrites_the_subtree_and_roll_ups_follow_it(stats, stats_db):
    catalog, requests = await scenario(stats_db)
    admin = auth("admin")

    async def rolled_up(code: str) -> dict:
        r = await stats.get(f"{API}/annual-reports/{code}/2025", headers=admin,
                            params={"include_subordinates": "true"})
        assert r.status_code == 200, r.text
        return r.json()

    assert [received(await rolled_up(c)) for c in (CITY, DEPT, STREET, OTHER)] == [4, 3, 2, 1]
    # The department's roll-up for 2025 is signed off before the reorganisation.
    head = auth("unit_head", organ=DEPT)
    officer = auth("stats_officer", organ=DEPT)
    etag = (await stats.post(f"{API}/annual-reports/{DEPT}/2025/submit", headers={**officer, "If-Match": '"1"'},
                             params={"include_subordinates": "true"})).headers["etag"]
    r = await stats.post(f"{API}/annual-reports/{DEPT}/2025/publish", headers={**head, "If-Match": etag},
                         params={"include_subordinates": "true"})
    assert r.status_code == 200 and r.json()["status"] == "published", r.text

    # 机构改革 in 2026: the street office (with its community) moves from the finance bureau to the education bureau.
    move(catalog, STREET, OTHER, 2)
    await drain(stats_db, catalog, requests)
    paths = await stored_paths(stats_db)
    assert paths[STREET] == f"/{CITY}/{OTHER}/{STREET}/"
    assert paths[COMMUNITY] == f"/{CITY}/{OTHER}/{STREET}/{COMMUNITY}/"  # never announced again, moved all the same
    assert paths[DEPT] == f"/{CITY}/{DEPT}/"

    # Roll-ups of past years follow the current hierarchy …
    assert [received(await rolled_up(c)) for c in (CITY, OTHER, STREET)] == [4, 3, 2]
    own = await stats.get(f"{API}/annual-reports/{DEPT}/2025", headers=admin)
    assert received(own.json()) == 1  # a single organ's report never depends on the hierarchy
    # … except the published one, which stays frozen; the move shows up as discrepancies.
    frozen = await rolled_up(DEPT)
    assert received(frozen) == 3
    r = await stats.get(f"{API}/annual-reports/{DEPT}/2025/discrepancies", headers=officer,
                        params={"include_subordinates": "true"})
    assert r.status_code == 200, r.text
    gaps = {d["cell"]: (d["published"], d["live"]) for d in r.json()["items"]}
    assert gaps["section3.rows.new_received.total"] == (3, 1)
    assert gaps["section3.rows.granted.natural_person"] == (3, 1)

    # Organ scope follows too: the education bureau's statistics staff now see the community's draft report,
    # the finance bureau's no longer do.
    r = await stats.get(f"{API}/annual-reports/{COMMUNITY}/2025", headers=auth("stats_officer", organ=OTHER))
    assert r.status_code == 200 and received(r.json()) == 1
    assert (await stats.get(f"{API}/annual-reports/{COMMUNITY}/2025", headers=officer)).status_code == 404
    assert (await stats.get(f"{API}/dashboards/{COMMUNITY}/overdue", headers=officer)).status_code == 403
    r = await stats.get(f"{API}/dashboards/{OTHER}/breakdown", headers=auth("stats_officer", organ=OTHER),
                        params={"by": "organ", "from": "2025-01-01", "to": "2025-12-31"})
    assert [(i["key"], i["depth"], i["received"]) for i in r.json()["items"]] == [
        (OTHER, 1, 1), (STREET, 2, 1), (COMMUNITY, 3, 1)]


async def test_paths_depend_only_on_the_latest_parents(stats_db):
    """Moves back and forth, a move to the top, and children announced before their parent (a cut feed): the
    incremental result equals a rebuild from cursor 0 in one batch and a rebuild one event at a time."""
    catalog, _ = await scenario(stats_db)
    move(catalog, STREET, OTHER, 2)
    move(catalog, DEPT, None, 2)
    move(catalog, STREET, DEPT, 3)
    late_parent, late_child = "11440100MS0000007G", "11440100MS0000008H"
    organ(catalog, late_child, "后到的科室", parent=late_parent)
    organ(catalog, late_parent, "后到的处室", parent=COMMUNITY)
    await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events, batch_size=2).drain()
    incremental = await stored_paths(stats_db)
    assert incremental[COMMUNITY] == f"/{DEPT}/{STREET}/{COMMUNITY}/"
    assert incremental[late_child] == f"/{DEPT}/{STREET}/{COMMUNITY}/{late_parent}/{late_child}/"
    assert incremental[OTHER] == f"/{CITY}/{OTHER}/"
    for batch_size in (1, 1000):
        async with stats_db.transaction() as session:
            await session.execute(delete(OrganFact))
            await session.execute(delete(outbox.cursors).where(outbox.cursors.c.consumer == "catalog"))
        await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events,
                           batch_size=batch_size).drain()
        assert await stored_paths(stats_db) == incremental


def test_organ_paths_cut_cycles_and_root_unknown_parents():
    assert organ_paths({"A": None, "B": "A", "C": "B", "D": "X"}) == {
        "A": "/A/", "B": "/A/B/", "C": "/A/B/C/", "D": "/D/"}
    cyclic = organ_paths({"A": "B", "B": "A", "C": "A"})
    assert set(cyclic) == {"A", "B", "C"} and all(len(p) < 20 for p in cyclic.values())


async def test_a_move_in_the_catalogue_reaches_both_mirrors(catalog, request_db, stats_db):
    """End to end: PATCH parent_code in the catalogue; the statistics' consumer (stats_service.consumers) and the
    request service's organ-directory consumer read the real feed; both move the subtree."""
    city = await make_organ(catalog, "示例市人民政府", kind="peoples_government")
    dept = await make_organ(catalog, "示例市财政局", parent=city)
    street = await make_organ(catalog, "示例街道", kind="township_street", parent=dept)
    community = await make_organ(catalog, "示例社区", kind="township_street", parent=street)
    other = await make_organ(catalog, "示例市教育局", parent=city)
    settings = StatsSettings()
    stats_consumer = make_consumers(stats_db, settings, HttpFeed(catalog, settings), Feed())[0]
    client = make_catalog_client(RequestSettings(), Forward(catalog))
    request_consumer = FeedConsumer(ORGAN_FEED, request_db, request_outbox, client.fetch_events, apply_organ_events)
    try:
        for consumer in (stats_consumer, request_consumer):
            assert await consumer.drain() >= 5  # (the catalogue database may hold other tests' committed rows)

        etag = (await catalog.get(f"/api/v1/catalog/organs/{street}")).headers["etag"]
        r = await catalog.patch(f"/api/v1/catalog/organs/{street}", json={"parent_code": other},
                                headers={**auth("admin"), "If-Match": etag})
        assert r.status_code == 200, r.text
        for consumer in (stats_consumer, request_consumer):
            assert await consumer.drain() == 1  # one organ.updated, for the moved organ only

        paths = await stored_paths(stats_db)
        assert paths[street] == f"/{city}/{other}/{street}/"
        assert paths[community] == f"/{city}/{other}/{street}/{community}/"
        async with request_db.transaction(write=False) as session:
            assert await subtree_codes(session, other) == [other, street, community]
            assert await subtree_codes(session, dept) == [dept]
    finally:
        await client.aclose()
