"""Confidentiality canary sweep of catalogue search (目录检索), with the world of test_canary_catalog.py: each
canary as the query and each record's 文号 and 索引号 as filters, as every principal, in the public and the
organ scope; and the counts.

Assertions: (a) a canary comes back only where visibility.py lets the principal see the record (its owning
organ's staff, in the organ scope — search indexes the public projection only, so not even they find redacted
segments); (b) a record's 文号 or 索引号 finds it exactly when the principal may see it in that scope; (c) `total`
and every facet count equal what the list shows, and each facet count equals the total of the search filtered by
that value: nothing hidden is counted.

Every canary is searched for as the public (anonymous) and as the owning organ's drafter (its classified ones as
its secrecy officer); every principal searches one canary per record in its own scope, the field rotating so that
over the principals every field of every record is searched for again.
"""

from pathlib import Path

import pytest

from catalog_service.config import Settings
from tests.security.canary_world import build_world
from tests.security.catalog_sweep import Sweep
from tests.support import serve

COUNTED = {"anonymous", "drafter_x", "secrecy_officer_x", "unit_head_y", "handler_x"}


@pytest.fixture
async def client(catalog_db, tmp_path: Path):
    from catalog_service.app import create_app

    async with serve(create_app(Settings(attachment_dir=str(tmp_path)), database=catalog_db)) as c:
        yield c


async def test_search_finds_and_counts_only_what_each_principal_may_see(client):
    w = await build_world(client)
    sweep = Sweep(client, w)
    every = list(w.canaries)
    own = [c for c, d in w.canaries.items() if d.organ == w.x]
    classified = [c for c, d in w.canaries.items() if d.classified]
    searched: set[str] = set()
    for i, who in enumerate(w.principals()):
        # One canary per record, a different field for each principal, in the principal's own scope (the organ
        # scope for catalogue staff; for anyone else it is the public one).
        rotating = [list(d.canaries)[i % len(d.canaries)] for d in w.docs if d.canaries]
        plan = {"organ" if who.catalog_staff_of else "public": rotating}
        plan.update({"anonymous": {"public": every, "organ": rotating}, "drafter_x": {"organ": own, "public": rotating},
                     "secrecy_officer_x": {"organ": classified}}.get(who.name, {}))
        await sweep.searches(who, plan)
        searched.update(c for queries in plan.values() for c in queries)
        if who.name in COUNTED:
            await sweep.counts(who)
    assert searched == set(every)
    # Search indexes the public projection only: even the owning organ's staff find no canary by searching,
    # except in what their own records say in the clear (title, summary, body, keywords, 文号) — so some do.
    assert sweep.found.get("drafter_x"), "the organ's drafter finds their own drafts (the search would see a leak)"
    assert set(sweep.found) <= {"drafter_x", "division_head_x", "unit_head_x", "secrecy_officer_x",
                                "drafter_y", "division_head_y", "unit_head_y", "secrecy_officer_y"}
    print(f"catalogue search sweep: {sweep.requests} requests, {len(every)} canaries")
