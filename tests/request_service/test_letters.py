"""Letters (文书): every kind and every reply outcome renders its key legal phrases; values are escaped; missing
optional values leave no trace; the staff API serves the HTML and a PDF. The PDF is read back (pypdf) and must carry
every block of the HTML letter — issuer, title, 申请编号, addressee, body, withheld parts, remedy notice, signature,
date — not merely start with %PDF-."""

import hashlib
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from request_service.domain.applications import today
from request_service.domain.letters import issue_letter, letters_of, render_pdf
from request_service.errors import LetterOutcomeMissing, UnknownLetterKind
from request_service.models import Application, KnownOrgan
from request_service.vocab import LetterKind, Outcome
from tests.request_service.helpers import API, Desk, act, assert_pdf_matches_html, organ_code, pdf_text
from tests.support import assert_problem, auth

ORGAN_NAME = "测试市财政局"
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
RECONSIDERATION_FIRST = "根据《中华人民共和国行政复议法》第二十三条"
MUST_RECONSIDER_FIRST = "对行政机关作出的不予公开决定不服的，应当先申请行政复议"


async def _application(db, organ: str, *, known_organ: bool = True, **fields) -> str:
    app_id = str(uuid.uuid4())
    values = dict(
        id=app_id, tracking_no=f"GK{uuid.uuid4().hex[:10].upper()}", query_code_hash="x", organ_code=organ,
        channel="online", submitted_at=datetime(2026, 2, 9, 20, tzinfo=UTC), receipt_date=date(2026, 2, 10),
        applicant_type="natural_person", applicant_name="王五", applicant_key=uuid.uuid4().hex,
        id_type="resident_id", id_number=ID_NUMBER, phone=PHONE, info_title="2025年城市更新项目的立项批复",
        status="accepted", due_on=date(2026, 3, 16), delivery="email")
    values.update(fields)
    async with db.transaction() as session:
        if known_organ and await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name=ORGAN_NAME, path=f"/{organ}/"))
        session.add(Application(**values))
    return app_id


async def _issue(db, app_id: str, kind: str, context: dict | None = None):
    async with db.transaction() as session:
        app = await session.get(Application, app_id)
        return await issue_letter(session, app, kind, "handler-1", context)


def _text(html: str) -> str:
    """The visible text, without tags and line breaks (phrases may wrap in the source)."""
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html.split("</head>")[-1]))


def _pdf(letter) -> str:
    """The letter's PDF read back: every block of its HTML, in order; returns the PDF's text (no whitespace)."""
    return assert_pdf_matches_html(render_pdf(letter), letter.html)


def _today_cn() -> str:
    return f"{today().year}年{today().month}月{today().day}日"


def _clean(html: str) -> None:
    text = _text(html)
    for leftover in ("None", "Undefined", "{{", "{%", "____"):
        assert leftover not in text, leftover
    assert ID_NUMBER not in html and PHONE not in html


# Each outcome: the context the handler would give, and phrases the reply must contain.
OUTCOMES = {
    "granted": ({"provided_items": ["立项批复（扫描件）"], "delivery_place": "随本答复书以电子邮件发送"},
                ["本机关予以公开", "第三十六条第（二）项", "立项批复（扫描件）", "获取方式：电子邮件", "60日内"]),
    "partially_granted": (
        {"provided_items": ["立项批复正文"],
         "withheld_parts": [{"part": "附件3中个人身份信息", "ground": "个人隐私", "article": "第十五条",
                             "reason": "公开会损害第三方合法权益"}]},
        ["第三十七条", "能够作区分处理", "立项批复正文", "附件3中个人身份信息", "个人隐私", "第十五条",
         RECONSIDERATION_FIRST, MUST_RECONSIDER_FIRST]),
    "withheld.state_secret": ({"reasons": "经定密责任人确定为秘密级"}, ["属于国家秘密", "第十四条", "决定不予公开"]),
    "withheld.prohibited_by_law": ({}, ["法律、行政法规禁止公开", "第十四条"]),
    "withheld.endangers_security_stability": ({}, ["国家安全、公共安全、经济安全、社会稳定", "第十四条"]),
    "withheld.third_party_rights": ({"reasons": "第三方不同意公开且理由合理"}, ["商业秘密、个人隐私", "第十五条"]),
    "withheld.internal_affairs": ({}, ["内部事务信息", "第十六条第一款"]),
    "withheld.process_information": ({}, ["过程性信息", "第十六条第二款"]),
    "withheld.enforcement_case_file": ({}, ["行政执法案卷", "第十六条第二款"]),
    "withheld.administrative_query": ({"query_channel": "不动产登记中心"},
                                      ["第三十六条第（七）项", "依照有关法律、行政法规的规定办理", "不动产登记中心"]),
    "unable.not_held": ({"search_record": "检索了2024—2026年收文登记"},
                        ["第三十六条第（四）项", "该政府信息不存在", "检索了2024—2026年收文登记"]),
    "unable.needs_creation": ({}, ["第三十八条", "加工、分析", "不予提供"]),
    "unable.still_unclear_after_supplement": ({"supplement_requested_on": "2026-02-12"},
                                              ["第三十条", "补正后的申请内容仍不明确", "2026年2月12日"]),
    "not_processed.petition_complaint": ({"proper_channel": "12345热线"},
                                         ["第三十九条第一款", "信访、投诉、举报", "12345热线"]),
    "not_processed.repeat_application": ({"previous_tracking_no": "GK0001", "previous_replied_on": "2026-01-05"},
                                         ["第三十六条第（六）项", "不予重复处理", "GK0001", "2026年1月5日"]),
    "not_processed.publication_requested": ({"publication_place": "市图书馆"},
                                            ["第三十九条第二款", "公开出版物", "市图书馆"]),
    "not_processed.excessive_volume": ({}, ["第三十五条", "明显超过合理范围", "不予处理"]),
    "not_processed.confirmation_requested": ({}, ["确认或者重新出具", "不予处理"]),
    "other.no_supplement": ({"supplement_requested_on": "2026-02-12", "supplement_due_on": "2026-02-27"},
                            ["第三十条", "视为您放弃申请", "2026年2月27日"]),
    "other.fee_unpaid": ({"fee_noticed_on": "2026-02-12", "fee_amount": Decimal("4700")},
                         ["国办函〔2020〕109号", "视为您放弃申请", "人民币4,700.00元"]),
    "other.other": ({"reasons": "申请人撤回申请"}, ["申请人撤回申请"]),
}


def test_every_outcome_has_a_case():
    assert set(OUTCOMES) == {o.value for o in Outcome}


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
async def test_reply_for_each_outcome(request_db, outcome):
    context, phrases = OUTCOMES[outcome]
    organ = organ_code()
    tracking_no = f"GK{uuid.uuid4().hex[:10].upper()}"
    app_id = await _application(request_db, organ, outcome=outcome, tracking_no=tracking_no)
    letter = await _issue(request_db, app_id, "reply", context)
    text = _text(letter.html)
    assert letter.kind == "reply" and letter.issued_on == today()
    assert letter.sha256 == hashlib.sha256(letter.html.encode()).hexdigest()
    assert text.startswith(f"{ORGAN_NAME}{letter.number}政府信息公开申请答复书申请编号：")
    assert "王五：" in text and "本机关于2026年2月10日收到您提出的政府信息公开申请" in text
    assert "2025年城市更新项目的立项批复" in text
    assert f"{today().year}年{today().month}月{today().day}日" in text
    for phrase in phrases:
        assert phrase in text, (outcome, phrase)
    reconsideration_first = outcome == "partially_granted" or (
        outcome.startswith("withheld.") and outcome != "withheld.administrative_query")
    assert (RECONSIDERATION_FIRST in text) is reconsideration_first, outcome
    assert (MUST_RECONSIDER_FIRST in text) is reconsideration_first
    if not reconsideration_first:
        assert "6个月内依法向人民法院提起行政诉讼" in text
    assert "自收到本答复之日起60日内依法" in text
    _clean(letter.html)

    # The printed letter says the same: head (issuer, title, 申请编号, addressee), outcome, remedy, signature, date.
    pdf = _pdf(letter)
    assert pdf.startswith(f"{ORGAN_NAME}{letter.number}政府信息公开申请答复书申请编号：{tracking_no}"
                          "王五：本机关于2026年2月10日收到")
    assert "2025年城市更新项目的立项批复" in pdf
    for phrase in phrases:
        assert phrase in pdf, (outcome, phrase)
    for part in context.get("withheld_parts", []):
        assert f"{part['part']}：{part['ground']}，依据《中华人民共和国政府信息公开条例》{part['article']}" in pdf
    assert (MUST_RECONSIDER_FIRST in pdf) is reconsideration_first
    assert "自收到本答复之日起60日内依法" in pdf and "提起行政诉讼" in pdf
    assert pdf.endswith(f"{ORGAN_NAME}{_today_cn()}"), pdf[-60:]


async def test_withholding_reply_carries_the_reconsideration_first_notice(request_db):
    app_id = await _application(request_db, organ_code(), outcome="withheld.third_party_rights",
                                reply_reasons="涉及第三方商业秘密")
    letter = await _issue(request_db, app_id, "reply", {"reconsideration_body": "测试市人民政府"})
    text = _text(letter.html)
    assert ("如不服本答复，可以自收到本答复之日起60日内依法向测试市人民政府申请行政复议；"
            "根据《中华人民共和国行政复议法》第二十三条第一款第（四）项和第二款的规定，"
            "对行政机关作出的不予公开决定不服的，应当先申请行政复议") in text
    assert "理由：涉及第三方商业秘密" in text and "第十五条、第三十六条第（三）项" in text
    pdf = _pdf(letter)
    assert "60日内依法向测试市人民政府申请行政复议" in pdf and MUST_RECONSIDER_FIRST in pdf
    assert "理由：涉及第三方商业秘密" in pdf


async def test_already_published_names_the_document_and_where_it_is(request_db):
    app_id = await _application(request_db, organ_code(), outcome="granted", published_document_id=str(uuid.uuid4()))
    letter = await _issue(request_db, app_id, "reply", {
        "document_title": "关于城市更新项目立项的批复", "document_number": "测财发〔2025〕12号",
        "document_url": "https://www.example.gov.cn/zwgk/12.html", "published_on": date(2025, 6, 3)})
    text = _text(letter.html)
    assert "已经主动公开" in text and "第三十六条第（一）项" in text
    assert "《关于城市更新项目立项的批复》（测财发〔2025〕12号）" in text
    assert "https://www.example.gov.cn/zwgk/12.html" in text and "2025年6月3日" in text
    pdf = _pdf(letter)
    assert "《关于城市更新项目立项的批复》（测财发〔2025〕12号）" in pdf
    assert "https://www.example.gov.cn/zwgk/12.html" in pdf


async def test_not_ours_names_the_competent_organ(request_db):
    app_id = await _application(request_db, organ_code(), outcome="unable.not_held")
    letter = await _issue(request_db, app_id, "reply", {"competent_organ": "测试市自然资源局",
                                                        "competent_organ_contact": "020-12345678"})
    text = _text(letter.html)
    assert "第三十六条第（五）项" in text and "测试市自然资源局" in text and "020-12345678" in text
    assert "不属于本机关负责公开" in text and "该政府信息不存在" not in text
    pdf = _pdf(letter)
    assert "测试市自然资源局" in pdf and "020-12345678" in pdf and "不属于本机关负责公开" in pdf


NOTICES = {
    "supplement_notice": ({"items": ["所需信息的文号", "所涉项目的名称"], "supplement_due_on": date(2026, 2, 27),
                           "guidance": "可参考本机关政府信息公开目录"},
                          ["第三十条", "一次性告知", "所需信息的文号", "所涉项目的名称", "2026年2月27日前",
                           "答复期限自本机关收到补正的申请之日起计算", "视为放弃申请"]),
    "extension_notice": ({"extension_days": 20, "new_due_on": date(2026, 4, 14), "approver": "赵六",
                          "reasons": "需要调取档案"},
                         ["第三十三条第二款", "政府信息公开工作机构负责人（赵六）同意", "延长20个工作日",
                          "2026年4月14日前", "需要调取档案"]),
    "consultation_letter": ({"party_name": "某某科技有限公司", "party_due_on": date(2026, 3, 5)},
                            ["某某科技有限公司：", "第三十二条", "15个工作日内", "2026年3月5日前", "书面意见"]),
    "fee_notice": ({"fee_amount": Decimal("4700"), "fee_method": "per_volume", "fee_pages": 250,
                    "fee_due_on": date(2026, 3, 12)},
                   ["国办函〔2020〕109号", "按量计收", "250页", "人民币4,700.00元", "2026年3月12日前",
                    "缴纳方式", "收到本通知次日起20个工作日内", "视为放弃申请"]),
    "receipt": ({}, ["已收到", "2026年2月10日", "第三十一条", "2026年3月16日前", "20个工作日", "查询码"]),
}


@pytest.mark.parametrize("kind", sorted(NOTICES))
async def test_notices(request_db, kind):
    context, phrases = NOTICES[kind]
    tracking_no = f"GK{uuid.uuid4().hex[:10].upper()}"
    app_id = await _application(request_db, organ_code(), tracking_no=tracking_no)
    letter = await _issue(request_db, app_id, kind, context)
    text = _text(letter.html)
    assert text.startswith(f"{ORGAN_NAME}{letter.number}{LetterKind(kind).zh}申请编号：")
    for phrase in phrases:
        assert phrase in text, (kind, phrase)
    _clean(letter.html)
    pdf = _pdf(letter)
    addressee = context.get("party_name", "王五")
    assert pdf.startswith(f"{ORGAN_NAME}{letter.number}{LetterKind(kind).zh}申请编号：{tracking_no}{addressee}：")
    for phrase in phrases:
        assert phrase in pdf, (kind, phrase)
    assert pdf.endswith(f"{ORGAN_NAME}{_today_cn()}"), pdf[-60:]


async def test_consultation_letter_never_names_the_applicant(request_db):
    app_id = await _application(request_db, organ_code())
    letter = await _issue(request_db, app_id, "consultation_letter", {"party_name": "某某科技有限公司"})
    assert "王五" not in letter.html
    assert "王五" not in pdf_text(render_pdf(letter)) and "某某科技有限公司：" in _pdf(letter)
    co_author = await _issue(request_db, app_id, "consultation_letter",
                             {"party_name": "测试市发展改革委", "party_kind": "co_author_organ"})
    assert "第三十四条" in _text(co_author.html) and "视为同意公开" in _text(co_author.html)


@pytest.mark.parametrize("kind", [k.value for k in LetterKind if k != LetterKind.REPLY])
async def test_missing_optional_values_render_gracefully(request_db, kind):
    organ = organ_code()
    app_id = await _application(request_db, organ, receipt_date=None, due_on=None, known_organ=False)
    letter = await _issue(request_db, app_id, kind)
    _clean(letter.html)
    pdf = _pdf(letter)
    for leftover in ("None", "Undefined", "{{", "____"):
        assert leftover not in pdf, leftover
    assert pdf.startswith(organ) and pdf.endswith(f"{organ}{_today_cn()}"), pdf[-60:]


async def test_organ_code_stands_in_for_an_unknown_organ_and_values_are_escaped(request_db):
    organ = organ_code()
    app_id = await _application(request_db, organ, known_organ=False, outcome="granted",
                                applicant_name="<script>alert(1)</script>", info_title="A & B <b>预算</b>")
    letter = await _issue(request_db, app_id, "reply")
    assert f'<h1 class="issuer">{organ}</h1>' in letter.html
    assert "<script>" not in letter.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in letter.html
    assert "A &amp; B &lt;b&gt;预算&lt;/b&gt;" in letter.html
    pdf = _pdf(letter)  # the PDF prints the text as typed, not the markup's escapes
    assert pdf.startswith(organ) and "<script>alert(1)</script>：" in pdf and "A&B<b>预算</b>" in pdf


async def test_reply_needs_an_outcome_and_kinds_are_checked(request_db):
    app_id = await _application(request_db, organ_code())
    with pytest.raises(LetterOutcomeMissing):
        await _issue(request_db, app_id, "reply")
    with pytest.raises(UnknownLetterKind):
        await _issue(request_db, app_id, "love_letter")


async def test_letters_api(requests_client, request_db):
    desk = Desk(organ_code())
    app_id = await _application(request_db, desk.organ, outcome="withheld.internal_affairs")
    first = await _issue(request_db, app_id, "receipt")
    second = await _issue(request_db, app_id, "reply", {"reasons": "属于内部人事管理信息"})
    async with request_db.transaction() as session:
        assert [letter.id for letter in await letters_of(session, app_id)] == [first.id, second.id]

    r = await requests_client.get(f"{API}/applications/{app_id}/letters", headers=desk.clerk)
    assert r.status_code == 200, r.text
    listed = r.json()["items"]
    assert [(x["id"], x["kind"], x["sha256"]) for x in listed] == [
        (first.id, "receipt", first.sha256), (second.id, "reply", second.sha256)]
    assert listed[1]["title"] == "政府信息公开申请答复书" and listed[1]["issued_on"] == today().isoformat()

    r = await requests_client.get(f"{API}/applications/{app_id}/letters/{second.id}", headers=desk.handler)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == second.html and hashlib.sha256(r.content).hexdigest() == second.sha256
    assert MUST_RECONSIDER_FIRST in _text(r.text)
    assert r.headers["content-security-policy"].startswith("default-src 'none'")

    r = await requests_client.get(f"{API}/applications/{app_id}/letters/{second.id}.pdf", headers=desk.approver)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    assert b"STSong-Light" not in r.content  # the font is embedded (test_letter_pdf.py checks it in detail)
    pdf = assert_pdf_matches_html(r.content, second.html)
    assert "属于人事管理、后勤管理、内部工作流程等内部事务信息" in pdf and "理由：属于内部人事管理信息" in pdf
    assert MUST_RECONSIDER_FIRST in pdf and pdf.endswith(f"{ORGAN_NAME}{_today_cn()}")
    assert r.headers["content-disposition"].endswith('-reply.pdf"')

    assert_problem(await requests_client.get(f"{API}/applications/{app_id}/letters/{uuid.uuid4()}",
                                             headers=desk.handler), 404, "letter_not_found")
    assert_problem(await requests_client.get(f"{API}/applications/{app_id}/letters/{uuid.uuid4()}.pdf",
                                             headers=desk.handler), 404, "letter_not_found")
    other = Desk(organ_code())
    for path in ("letters", f"letters/{second.id}", f"letters/{second.id}.pdf"):
        assert_problem(await requests_client.get(f"{API}/applications/{app_id}/{path}", headers=other.handler),
                       404, "application_not_found")
        assert_problem(await requests_client.get(f"{API}/applications/{app_id}/{path}"), 401)
    assert_problem(await requests_client.get(f"{API}/applications/{app_id}/letters",
                                             headers=auth("applicant", sub="someone")), 403, "wrong_role")


async def test_withholding_reply_through_the_handling_flow(requests_client, request_db):
    """draft → approve by another person → the reply letter is issued with the reconsideration-first notice."""
    desk = Desk(organ_code())
    app_id = await _application(request_db, desk.organ)
    await act(requests_client, desk.handler, app_id, "draft-reply", {
        "outcome": "withheld.process_information", "comment": "属于内部讨论记录", "articles": ["第十六条第二款"]})
    await act(requests_client, desk.approver, app_id, "approve-reply", {})
    letters = (await requests_client.get(f"{API}/applications/{app_id}/letters",
                                         headers=desk.handler)).json()["items"]
    reply = next(letter for letter in letters if letter["kind"] == "reply")
    page = await requests_client.get(f"{API}/applications/{app_id}/letters/{reply['id']}", headers=desk.handler)
    text = _text(page.text)
    assert "过程性信息" in text and "第十六条第二款" in text and "理由：属于内部讨论记录" in text
    assert RECONSIDERATION_FIRST in text and MUST_RECONSIDER_FIRST in text
    pdf = await _served_pdf(requests_client, desk, app_id, reply["id"], page.text)
    assert "过程性信息" in pdf and "理由：属于内部讨论记录" in pdf and MUST_RECONSIDER_FIRST in pdf


async def _served_pdf(client, desk: Desk, app_id: str, letter_id: str, letter_html: str) -> str:
    r = await client.get(f"{API}/applications/{app_id}/letters/{letter_id}.pdf", headers=desk.handler)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    pdf = assert_pdf_matches_html(r.content, letter_html)
    assert re.match(rf"{ORGAN_NAME}{ORGAN_NAME}依复〔\d{{4}}〕\d+号政府信息公开申请答复书申请编号：", pdf), pdf[:80]
    assert pdf.endswith(f"{ORGAN_NAME}{_today_cn()}")
    return pdf


def test_articles_are_cited_once_with_the_regulations_name():
    from request_service.domain.letters import cite

    assert cite(["第十五条", "条例第三十六条第（三）项"]) == (
        "《中华人民共和国政府信息公开条例》第十五条、第三十六条第（三）项")
    assert cite("《中华人民共和国政府信息公开条例》第十四条") == "《中华人民共和国政府信息公开条例》第十四条"
    assert cite(["第十四条", "《中华人民共和国保守国家秘密法》第十三条"]) == (
        "《中华人民共和国政府信息公开条例》第十四条和《中华人民共和国保守国家秘密法》第十三条")
    assert cite([]) == "" and cite(None) == ""


WITHHELD_PART = ("专家评审意见中的个人信息：保护第三方合法权益（商业秘密、个人隐私等），"
                 "依据《中华人民共和国政府信息公开条例》第十五条的规定不予公开。理由：涉及个人隐私")


async def test_partial_grant_through_the_handling_flow(requests_client, request_db):
    desk = Desk(organ_code())
    app_id = await _application(request_db, desk.organ)
    await act(requests_client, desk.handler, app_id, "draft-reply", {
        "outcome": "partially_granted", "comment": "其余部分予以公开",
        "withheld_parts": [{"description": "专家评审意见中的个人信息", "ground": "third_party_rights",
                            "article": "条例第十五条", "reason": "涉及个人隐私"}]})
    await act(requests_client, desk.approver, app_id, "approve-reply",
              {"context": {"provided_items": ["立项批复正文"], "delivery_place": "电子邮件"}})
    letters = (await requests_client.get(f"{API}/applications/{app_id}/letters",
                                         headers=desk.handler)).json()["items"]
    reply = next(letter for letter in letters if letter["kind"] == "reply")
    page = await requests_client.get(f"{API}/applications/{app_id}/letters/{reply['id']}", headers=desk.handler)
    text = _text(page.text)
    assert WITHHELD_PART in text
    assert "条例》条例" not in text and "立项批复正文" in text and MUST_RECONSIDER_FIRST in text
    pdf = await _served_pdf(requests_client, desk, app_id, reply["id"], page.text)
    assert WITHHELD_PART in pdf
    assert "立项批复正文" in pdf and MUST_RECONSIDER_FIRST in pdf
