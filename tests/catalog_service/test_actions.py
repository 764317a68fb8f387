"""`GET /api/v1/catalog/me` and the allowed actions on a catalogue record (issue 14 item 4): both read from the tables
that judge the calls (the access policy, the workflow's guard), so a front-end shows exactly the buttons that
work."""

from catalog_service.domain.workflow import TRANSITIONS
from catalog_service.policy import POLICY
from tests.actions_support import check_actions, check_me
from tests.catalog_service.helpers import API, Staff, draft, make_organ
from tests.support import auth

BODIES = {
    "submit": {}, "approve": {}, "return": {"comment": "请修改标题"}, "refer": {"comment": "报请保密行政管理部门确定"},
    "resolve_referral": {"comment": "主管部门意见：可以公开"}, "decide": {"attribute": "proactive"},
    "classify": {"classification_level": "secret", "secrecy_period_years": 10, "classification_responsible": "赵保密"},
    "declassify": {"comment": "保密期限届满解密"}, "withdraw": {"comment": "内容有误，撤回"}, "repeal": {},
    "reevaluate": {"comment": "动态调整，重新评估"},
}


async def test_me_says_who_i_am_and_exactly_what_the_policy_admits(catalog):
    organ = await make_organ(catalog)
    staff = Staff(organ)
    me = await check_me(catalog, API, POLICY, staff.drafter)
    assert me["sub"] == f"drafter@{organ}" and me["name"] == "张拟稿" and me["organ"] == organ
    assert me["roles"] == [{"code": "drafter", "zh": "拟稿人", "en": "Drafter"}]
    may = {f"{op['method']} {op['path']}" for op in me["may"]}
    assert f"POST {API}/documents/{{document_id}}/submit" in may and f"POST {API}/documents" in may
    assert f"POST {API}/documents/{{document_id}}/decide" not in may
    head = await check_me(catalog, API, POLICY, staff.unit_head)
    assert f"POST {API}/documents/{{document_id}}/decide" in {f"{op['method']} {op['path']}" for op in head["may"]}
    anonymous = await check_me(catalog, API, POLICY, {}, anonymous=True)
    assert anonymous["anonymous"] is True and all(op["public"] for op in anonymous["may"])


async def test_listed_actions_are_admitted_and_the_others_refused(catalog):
    organ = await make_organ(catalog)
    staff = Staff(organ)
    principals = {"drafter": (staff.drafter, frozenset({"drafter"})),
                  "division_head": (staff.division_head, frozenset({"division_head"})),
                  "unit_head": (staff.unit_head, frozenset({"unit_head"})),
                  "secrecy_officer": (staff.secrecy_officer, frozenset({"secrecy_officer"}))}

    async def new_record() -> str:
        return (await draft(catalog, staff))[0]

    async def body(action: str, doc_id: str) -> dict:
        return BODIES[action]

    path = [("submit", staff.drafter), ("approve", staff.division_head), ("decide", staff.unit_head),
            ("withdraw", staff.unit_head)]
    seen = await check_actions(
        catalog, record_url=lambda i: f"{API}/documents/{i}/record",
        action_url=lambda i, name: f"{API}/documents/{i}/{name.replace('_', '-')}", reader=staff.drafter, path=path,
        principals=principals, body=body, actions={name: rule.roles for name, rule in TRANSITIONS.items()},
        new_record=new_record)
    assert seen[(0, "drafter")] == ["submit"] and seen[(0, "secrecy_officer")] == ["classify"]
    assert seen[(1, "division_head")] == ["approve", "return", "refer"]
    assert "decide" in seen[(2, "unit_head")] and seen[(2, "division_head")] == ["return", "refer"]
    assert set(seen[(3, "unit_head")]) == {"classify", "withdraw", "repeal"}
    assert "declassify" not in seen[(4, "secrecy_officer")]  # withdrawn but never classified: nothing to declassify
    # Another organ's staff see the public record and no button at all.
    other = auth("unit_head", organ=await make_organ(catalog), sub="head@other")
    doc_id = await new_record()
    r = await catalog.get(f"{API}/documents/{doc_id}/record", headers=staff.unit_head)
    assert [a["name"] for a in r.json()["actions"]] == ["classify"]
    assert (await catalog.get(f"{API}/documents/{doc_id}/record", headers=other)).status_code == 404
