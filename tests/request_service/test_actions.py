"""`GET /api/v1/requests/me` and the allowed actions on an application (issue 14 item 4): both read from the tables
that judge the calls (the access policy, the handling state machine's guard), so a front-end shows exactly the
buttons that work."""

import uuid
from datetime import timedelta

from request_service.domain.applications import today
from request_service.domain.handling import RULES
from request_service.policy import POLICY
from tests.actions_support import check_actions, check_me
from tests.request_service.intake_support import API, submit
from tests.support import auth


async def test_me_says_who_i_am_and_exactly_what_the_policy_admits(client, organ, desk):
    me = await check_me(client, API, POLICY, desk.handler)
    assert me["anonymous"] is False and me["sub"] == f"handler@{organ}" and me["organ"] == organ
    assert me["roles"] == [{"code": "handler", "zh": "承办人", "en": "Handler"}]
    may = {f"{op['method']} {op['path']}" for op in me["may"]}
    assert f"POST {API}/applications/{{application_id}}/draft-reply" in may
    assert f"POST {API}/applications/{{application_id}}/approve-reply" not in may
    applicant = await check_me(client, API, POLICY, auth("applicant", sub="me-citizen"))
    assert {op["path"] for op in applicant["may"] if not op["public"]} == {
        f"{API}/applications/mine", f"{API}/applications/mine/{{application_id}}/letters",
        f"{API}/applications/mine/{{application_id}}/letters/{{letter_id}}",
        f"{API}/applications/mine/{{application_id}}/letters/{{letter_id}}.pdf"}
    assert all(op["scope"] == "own" for op in applicant["may"] if not op["public"])
    anonymous = await check_me(client, API, POLICY, {}, anonymous=True)
    assert anonymous["anonymous"] is True and anonymous["sub"] is None and anonymous["roles"] == []
    assert all(op["public"] for op in anonymous["may"])


async def test_listed_actions_are_admitted_and_the_others_refused(client, organ, desk):
    both = auth("handler", "reply_approver", organ=organ, sub=f"both@{organ}", name="承办兼签发")
    principals = {"clerk": (desk.clerk, frozenset({"intake_clerk"})), "handler": (desk.handler, frozenset({"handler"})),
                  "approver": (desk.approver, frozenset({"reply_approver"})),
                  "both": (both, frozenset({"handler", "reply_approver"}))}

    async def new_record() -> str:
        return (await submit(client, organ))["id"]

    async def body(action: str, app_id: str) -> dict:
        if action == "record_opinion":
            consultations = (await client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                              headers=desk.handler)).json()["items"]
            open_ones = [c["id"] for c in consultations if c["opinion"] is None]
            return {"consultation_id": (open_ones or [str(uuid.uuid4())])[0], "opinion": "consent"}
        return {
            "confirm": {"method": "系统回执"}, "assign": {"handler_sub": f"handler@{organ}"},
            "request_supplement": {"items": ["请明确所需信息的年度"]}, "receive_supplement": {},
            "close_unsupplemented": {}, "consult": {"party_kind": "third_party", "party_name": "某某有限公司"},
            "extend": {"days": 5, "comment": "需要检索的档案较多"},
            "defer": {"due_on": (today() + timedelta(days=120)).isoformat(), "comment": "申请数量明显超过合理范围"},
            "notify_fee": {"fee_method": "per_application"}, "record_payment": {"amount": "100.00"},
            "waive_fee": {"comment": "困难群众减免"}, "close_unpaid": {},
            "draft_reply": {"outcome": "granted", "comment": "予以公开"}, "return_reply": {"comment": "请补充依据"},
            "approve_reply": {"comment": "同意"},
            "request_explanation": {"comment": "申请数量明显超过合理范围"},
            "record_explanation": {"comment": "研究需要"},
            "accept_late_supplement": {"comment": "申请人住院治疗"},
            "record_delivery": {"letter_id": str(uuid.uuid4()), "on": today().isoformat()},  # wrong letter: 422
        }[action]

    path = [("confirm", desk.clerk), ("consult", desk.handler), ("record_opinion", desk.handler),
            ("draft_reply", both), ("approve_reply", desk.approver)]
    seen = await check_actions(
        client, record_url=lambda i: f"{API}/applications/{i}",
        action_url=lambda i, name: f"{API}/applications/{i}/{name.replace('_', '-')}", reader=desk.clerk,
        path=path, principals=principals, body=body,
        actions={name: rule.roles for name, rule in RULES.items()}, new_record=new_record)
    assert seen[(0, "clerk")] == ["confirm"] and seen[(0, "handler")] == []
    assert "request_supplement" in seen[(1, "handler")] and "extend" in seen[(1, "approver")]
    # The one who drafted the reply may not sign it off (separation of duties); another approver may.
    assert "approve_reply" not in seen[(4, "both")] and "return_reply" in seen[(4, "both")]
    assert "approve_reply" in seen[(4, "approver")]
    assert all(seen[(5, who)] == [] for who in principals)  # replied: nothing more to do
