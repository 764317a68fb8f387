"""Confidentiality canary sweep of the catalogue (reliability.md §1, the cross-cutting leak test).

Canary strings sit in records of every state the public must not see — classified (涉密, in drafting and in
review), draft, in review, referred, approved but not published (依申请公开 / 不予公开), scheduled, withdrawn,
repealed then withdrawn, published then classified (定密) — and in the redacted segments and withheld file of a
published record, in every field (title, summary, body, keywords, 文号, review comments, redaction notes,
attachment content and file name); a draft of another organ carries its own. Then every GET route of the
catalogue (from its OpenAPI document) is crawled as every principal: the record
and its public view, review log, attachments, the change feed, the Atom feed, organs, vocabularies, work-lists,
the internal event feed and audit log, and error bodies; test_canary_search.py does the searches with each canary
as the query and as filters, and the counts.

Assertions, for every response: (a) a canary shows up only where visibility.py lets that principal see the
record — staff of the owning organ in staff views, classified ones only with the secrecy-officer or unit-head
role; never in a public view, never for another organ or a non-catalogue role; (b) the ids and 索引号 of hidden
records never show up in public views (the change feed carries a content-free tombstone for records that were
once public). Positive controls (the public control record is found; the owning organ's staff do find their
drafts' canaries) make sure the crawl would see a leak.
"""

from pathlib import Path

import pytest

from catalog_service.config import Settings
from services.policy import ALL_ROLES, route_keys
from tests.security.canary_world import build_world
from tests.security.catalog_sweep import Sweep
from tests.support import serve


@pytest.fixture
async def client(catalog_db, tmp_path: Path):
    from catalog_service.app import create_app

    async with serve(create_app(Settings(attachment_dir=str(tmp_path)), database=catalog_db)) as c:
        yield c


async def test_no_canary_leaves_the_catalogue(client):
    w = await build_world(client)
    sweep = Sweep(client, w)
    principals = w.principals()
    assert {r for p in principals for r in p.roles} == ALL_ROLES  # every role a token can carry
    for who in principals:
        await sweep.directory(who)
        await sweep.records(who)
        await sweep.search(who, {"q": w.control_marker})
        await sweep.feeds(who)
        await sweep.worklists(who)
        await sweep.health(who)
        await sweep.webhooks(who)

    # Links to hidden records: another organ's drafter, to any of X's; X's own drafter, to X's classified records
    # (a drafter may not read them); X's document system (bulk import: the organ's own unclassified records and
    # public ones), to X's classified records and to Y's draft.
    by_name = {p.name: p for p in principals}
    x_hidden = [d for d in w.hidden if d.organ == w.x]
    await sweep.references(by_name["drafter_y"], x_hidden)
    await sweep.references(by_name["drafter_x"], [d for d in x_hidden if d.classified])
    await sweep.references(by_name["integration_x"], [d for d in w.hidden if d.classified or d.organ == w.y],
                           bulk=True)

    # Every GET route of the catalogue (its OpenAPI document) was crawled.
    from catalog_service.app import create_app

    routes = {k for k in route_keys(create_app()) if k.startswith("GET ")}
    assert routes <= sweep.seen_routes, sorted(routes - sweep.seen_routes)
    # Positive controls: the owning organ's staff do see their records' canaries in staff views (the crawl would
    # see a leak), classified ones only with the roles that may; nobody else saw any.
    drafts = {c for d in w.docs if not d.classified and d.organ == w.x for c in d.canaries}
    classified = {c for d in w.docs if d.classified for c in d.canaries}
    assert drafts <= sweep.found["drafter_x"] and drafts <= sweep.found["division_head_x"]
    assert classified <= sweep.found["secrecy_officer_x"] and classified <= sweep.found["unit_head_x"]
    assert not classified & (sweep.found["drafter_x"] | sweep.found["division_head_x"])
    assert set(sweep.found) == {"drafter_x", "division_head_x", "unit_head_x", "secrecy_officer_x",
                                "drafter_y", "division_head_y", "unit_head_y", "secrecy_officer_y"}
    print(f"catalogue sweep: {sweep.requests} requests, {len(w.canaries)} canaries, {len(principals)} principals")
