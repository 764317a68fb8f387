"""The organ directory mirror (KnownOrgan) under 机构改革: when the catalogue re-parents an organ it announces only
that organ (organ.updated with the new parent_code); the mirror must carry the organ's whole subtree along, in
the same batch as other organ events, in any order the feed was cut, and ignore replays of older versions."""

import itertools

from sqlalchemy import select

from request_service.domain.organs import apply_organ_event, apply_organ_events, subtree_codes
from request_service.models import KnownOrgan
from services.outbox import EventRead
from tests.request_service.intake_support import new_organ_code

_ids = itertools.count(1)


def event(organ_id: str, code: str, parent: str | None, version: int, *, name: str | None = None) -> EventRead:
    """An organ event in the catalogue's payload shape (catalog_service.domain.organs.organ_event_payload)."""
    return EventRead.model_validate({
        "id": next(_ids), "type": "organ.created" if version == 1 else "organ.updated", "entity_type": "organ",
        "entity_id": organ_id, "version": version,
        "payload": {"id": organ_id, "code": code, "name": name or f"机关{code[-4:]}", "kind": "department",
                    "parent_code": parent, "version": version},
        "occurred_at": "2026-03-01T00:00:00Z"})


class Tree:
    """示例市 → 财政局 → 分局 → 科; 教育局 under the city."""

    def __init__(self) -> None:
        self.city, self.bureau, self.office, self.team, self.other = (new_organ_code() for _ in range(5))

    def created(self) -> list[EventRead]:
        return [event(f"id-{code}", code, parent, 1) for code, parent in (
            (self.city, None), (self.bureau, self.city), (self.office, self.bureau), (self.team, self.office),
            (self.other, self.city))]

    def move_bureau(self, parent: str | None, version: int = 2) -> EventRead:
        return event(f"id-{self.bureau}", self.bureau, parent, version)


async def paths(session, *codes: str) -> dict[str, str]:
    rows = (await session.execute(select(KnownOrgan.code, KnownOrgan.path).where(KnownOrgan.code.in_(codes)))).all()
    return dict(rows)


async def test_a_move_carries_the_whole_subtree(request_db):
    t = Tree()
    async with request_db.transaction() as session:
        await apply_organ_events(session, t.created())
        assert await subtree_codes(session, t.bureau) == [t.bureau, t.office, t.team]
        await apply_organ_event(session, t.move_bureau(t.other))
        assert await paths(session, t.bureau, t.office, t.team) == {
            t.bureau: f"/{t.city}/{t.other}/{t.bureau}/",
            t.office: f"/{t.city}/{t.other}/{t.bureau}/{t.office}/",
            t.team: f"/{t.city}/{t.other}/{t.bureau}/{t.office}/{t.team}/"}
        assert (await session.get(KnownOrgan, t.bureau)).parent_code == t.other
        assert await subtree_codes(session, t.other) == [t.other, t.bureau, t.office, t.team]
        assert await subtree_codes(session, t.city) == [t.city, t.other, t.bureau, t.office, t.team]
        # Replays of older versions (the creation, the move) change nothing; a later move to the top works.
        await apply_organ_events(session, [*t.created(), t.move_bureau(t.other)])
        assert (await paths(session, t.team))[t.team] == f"/{t.city}/{t.other}/{t.bureau}/{t.office}/{t.team}/"
        await apply_organ_event(session, t.move_bureau(None, version=3))
        assert await paths(session, t.office, t.team) == {t.office: f"/{t.bureau}/{t.office}/",
                                                          t.team: f"/{t.bureau}/{t.office}/{t.team}/"}
        assert await subtree_codes(session, t.city) == [t.city, t.other]
        # A new subordinate of a moved organ lands under its new path.
        late = new_organ_code()
        await apply_organ_event(session, event(f"id-{late}", late, t.team, 1))
        assert (await paths(session, late))[late] == f"/{t.bureau}/{t.office}/{t.team}/{late}/"


async def test_one_batch_with_a_move_between_creations(request_db):
    """office created, bureau moved, team created under office — all in one batch (one session): the bulk subtree
    rewrite must not leave the office's stale path in the session for the team to inherit."""
    t = Tree()
    created = t.created()
    async with request_db.transaction() as session:
        await apply_organ_events(session, [created[0], created[1], created[4]])
    async with request_db.transaction() as session:
        await apply_organ_events(session, [created[2], t.move_bureau(t.other), created[3]])
        assert await paths(session, t.office, t.team) == {
            t.office: f"/{t.city}/{t.other}/{t.bureau}/{t.office}/",
            t.team: f"/{t.city}/{t.other}/{t.bureau}/{t.office}/{t.team}/"}


async def test_children_announced_before_their_parent_are_adopted(request_db):
    """A feed cut mid-tree: the office and its team arrive before the bureau; they are roots until it arrives."""
    t = Tree()
    created = t.created()
    async with request_db.transaction() as session:
        await apply_organ_events(session, [created[0], created[2], created[3]])
        assert (await paths(session, t.office))[t.office] == f"/{t.office}/"
        await apply_organ_event(session, created[1])
        assert await paths(session, t.office, t.team) == {
            t.office: f"/{t.city}/{t.bureau}/{t.office}/", t.team: f"/{t.city}/{t.bureau}/{t.office}/{t.team}/"}
        assert await subtree_codes(session, t.city) == [t.city, t.bureau, t.office, t.team]


async def test_an_organ_announced_under_its_own_subordinate_stays_finite(request_db):
    """The catalogue never announces a cycle; if it did, the mirror roots the organ instead of nesting paths."""
    t = Tree()
    async with request_db.transaction() as session:
        await apply_organ_events(session, t.created())
        await apply_organ_event(session, t.move_bureau(t.team))
        bureau = await session.get(KnownOrgan, t.bureau)
        assert bureau.path == f"/{t.bureau}/" and bureau.parent_code == t.team
        assert (await paths(session, t.team))[t.team] == f"/{t.bureau}/{t.office}/{t.team}/"
