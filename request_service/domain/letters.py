"""Letters (文书): reply letters (答复书) and notices, rendered from Jinja2 templates
(request_service/templates/letters) to HTML, stored with their sha256, and printable as PDF.

`issue_letter(session, app, kind, actor_sub, context)` renders and stores one letter. The facts of the application
are filled in from `app` (organ name as issuer — from KnownOrgan, else the organ code —, 申请编号, applicant name,
the information requested, receipt and due dates); `context` adds or overrides values. Every value is optional
unless marked *; a missing value leaves its sentence out or falls back to a neutral wording. Dates may be `date`
objects or ISO strings and print as 2026年3月16日. Never pass identity numbers: letters carry names only.

Common to every kind
    contact               str   the organ's contact line printed at the foot; default: its 公开指南 facts as the
                                catalogue announced them (地址、电话、办公时间), none if it announced none
    reconsideration_body  str   复议机关 named in the remedy notice (e.g. "XX市人民政府")
    court                 str   人民法院 named in the remedy notice
    received_on           date  default app.receipt_date
    info_title            str   default app.info_title

reply (政府信息公开申请答复书) — the section follows `outcome`
    outcome *             str   Outcome value; default app.outcome (422 letter_outcome_missing without one)
    articles              list[str]  e.g. ["第十五条", "第三十六条第（三）项"]; default app.reply_articles, else the
                                usual articles of the outcome (条例 is prefixed in the text)
    reasons               str   default app.reply_reasons
    予以公开 granted:
      already_published   bool  36(一) 已主动公开; default: app.published_document_id is set
      document_title, document_number, document_url, document_place, published_on   the published document
      provided_items      list[str]  what is provided
      delivery_method, delivery_place, delivery_on   how / where / when to get it (delivery_method defaults to
                                the applicant's chosen delivery)
    部分公开 partially_granted (条例第三十七条): provided_items, delivery_*, and
      withheld_parts      list[{part, ground, article, reason}]; default app.withheld_parts (keys what/why are
                                accepted for part/reason)
    不予公开 withheld.*: reasons, withheld_parts; withheld.administrative_query: query_channel (36(七) route)
                                The remedy notice states 行政复议法第二十三条 复议前置 (not for 36(七)).
    无法提供 unable.*: search_record (检索情况, 36(四)); not_ours (bool, 36(五)) with competent_organ and
                                competent_organ_contact; supplement_requested_on (still unclear)
    不予处理 not_processed.*: proper_channel (39①), previous_tracking_no / previous_replied_on (36(六)),
                                publication_place (39②), no_reasons_given (35; default: the applicant gave none),
                                explanation_requested_on (35; default app.explanation_requested_on)
    其他处理 other.*: supplement_requested_on, supplement_due_on (no supplement); fee_noticed_on, fee_amount,
                                fee_due_on (fee unpaid)
supplement_notice (补正告知书, 条例第三十条)
    items                 list[str]  the items to supplement (one notice, all items)
    supplement_due_on     date  补正期限; default app.supplement_due_on (none while a posted notice is undelivered)
    supplement_days       int   the period in working days from receipt, printed when there is no date yet
    guidance              str   指导和释明
    submit_to             str   how to send the supplement
extension_notice (延期答复告知书, 条例第三十三条第二款)
    extension_days        int   default app.extension_days
    new_due_on            date  default app.due_on
    new_due_provisional   bool  default app.due_provisional
    original_due_on       date
    approver              str   the office head who approved; default app.extension_approved_by
    reason                str   default app.extension_reason
consultation_letter (第三方意见征询函, 条例第三十二条 / 第三十四条) — addressed to the party, not the applicant
    party_name *          str   the addressee
    party_kind            str   third_party (default) | co_author_organ
    party_due_on          date  the party's 15-working-day deadline
    info_description      str   what is requested; default app.info_title
    concern               str   why the party's rights may be affected
    reply_to              str   how to send the opinion
fee_notice (收费通知, 国办函〔2020〕109号)
    fee_amount            Decimal  default app.fee_amount
    fee_method            str   FeeMethod value; default app.fee_method
    fee_pages             int   default app.fee_pages
    nth                   int   per application: the n-th application of the applicant this month (default:
                                computed as fees.application_rank does)
    fee_standard          str   default: the standard of the method (fees.STANDARD)
    fee_due_on            date  payment deadline; default app.fee_due_on
    payment_method        str   how to pay
explanation_request (说明理由通知书, 条例第三十五条)
    grounds               str   why the volume or frequency of requests exceeds a reasonable range
    explanation_due_on    date  the applicant's window; default app.explanation_due_on
    explanation_days      int   the window in working days from receipt, printed when there is no date yet
    submit_to             str   how to send the reasons
deferral_notice (延迟答复告知书, 条例第三十五条)
    deferred_due_on       date  the deferred deadline; default app.deferred_due_on
    original_due_on       date  the due date it replaces
    reason                str   why the reply cannot be given in time; default app.deferral_reason
    explanation_requested_on, explanation_received_on   dates of the 说明理由 steps (defaults from app)
receipt (受理回执)
    submitted_on          date  default: the Shanghai date of app.submitted_at
    due_on                date  default app.due_on;  due_provisional  bool  default app.due_provisional

Aliases (ALIASES) are accepted where the handling code uses other names: extension_notice reasons → reason,
days → extension_days, due_on → new_due_on; fee_notice pages → fee_pages, amount → fee_amount, method → fee_method,
due_on → fee_due_on; supplement_notice due_on → supplement_due_on; consultation_letter due_on → party_due_on.
"""

import hashlib
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import SHANGHAI, today
from request_service.domain.fees import STANDARD, application_rank
from request_service.domain.letter_pdf import render_pdf
from request_service.errors import LetterNotFound, LetterOutcomeMissing, UnknownLetterKind
from request_service.models import Application, KnownOrgan, Letter, LetterSerial
from request_service.vocab import GROUND_ARTICLES, Channel, Delivery, FeeMethod, LetterKind, Outcome, RefusalGround

__all__ = ["ALIASES", "DEFAULT_ARTICLES", "SERIES", "get_letter", "issue_letter", "letters_of", "next_number",
           "render_html", "render_pdf"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "letters"

# The articles of 条例 a reply cites by default, per outcome (legal-rules §1.8; the 36(七) mapping is 🔧).
DEFAULT_ARTICLES: dict[str, list[str]] = {
    "granted": ["第三十六条第（二）项"],
    "granted.already_published": ["第三十六条第（一）项"],
    "partially_granted": ["第三十七条"],
    "withheld.state_secret": ["第十四条", "第三十六条第（三）项"],
    "withheld.prohibited_by_law": ["第十四条", "第三十六条第（三）项"],
    "withheld.endangers_security_stability": ["第十四条", "第三十六条第（三）项"],
    "withheld.third_party_rights": ["第十五条", "第三十六条第（三）项"],
    "withheld.internal_affairs": ["第十六条第一款", "第三十六条第（三）项"],
    "withheld.process_information": ["第十六条第二款", "第三十六条第（三）项"],
    "withheld.enforcement_case_file": ["第十六条第二款", "第三十六条第（三）项"],
    "withheld.administrative_query": ["第三十六条第（七）项"],
    "unable.not_held": ["第三十六条第（四）项"],
    "unable.not_held.not_ours": ["第三十六条第（五）项"],
    "unable.needs_creation": ["第三十八条"],
    "unable.still_unclear_after_supplement": ["第二十九条第二款", "第三十条"],
    "not_processed.petition_complaint": ["第三十九条第一款"],
    "not_processed.repeat_application": ["第三十六条第（六）项"],
    "not_processed.publication_requested": ["第三十九条第二款"],
    "not_processed.excessive_volume": ["第三十五条"],
    "not_processed.confirmation_requested": [],
    "other.no_supplement": ["第三十条"],
    "other.fee_unpaid": ["第四十二条"],
    "other.other": [],
}
# 文号 series per kind: 机关简称 + series + 〔year〕 + serial + 号, e.g. 测试市财政局依复〔2026〕12号 (依申请公开答复).
# Each series is numbered on its own, per year, as registries (收发文登记) number replies and notices separately.
SERIES: dict[str, str] = {
    "reply": "依复", "supplement_notice": "依补", "extension_notice": "依延", "consultation_letter": "依征",
    "fee_notice": "依费", "explanation_request": "依说", "deferral_notice": "依缓", "receipt": "依收",
}
# Other names accepted for a context key, per kind (alias → key).
ALIASES: dict[str, dict[str, str]] = {
    "extension_notice": {"reasons": "reason", "days": "extension_days", "due_on": "new_due_on"},
    "fee_notice": {"pages": "fee_pages", "amount": "fee_amount", "method": "fee_method", "due_on": "fee_due_on"},
    "supplement_notice": {"due_on": "supplement_due_on"},
    "consultation_letter": {"due_on": "party_due_on"},
}
# The sentence completing "您申请获取的政府信息…" of a withholding reply.
WITHHELD_GROUNDS = {
    "withheld.state_secret": "属于国家秘密",
    "withheld.prohibited_by_law": "属于法律、行政法规禁止公开的政府信息",
    "withheld.endangers_security_stability": "公开后可能危及国家安全、公共安全、经济安全、社会稳定",
    "withheld.third_party_rights": "涉及商业秘密、个人隐私等公开后会对第三方合法权益造成损害的内容",
    "withheld.internal_affairs": "属于人事管理、后勤管理、内部工作流程等内部事务信息",
    "withheld.process_information": ("属于行政机关在履行行政管理职能过程中形成的讨论记录、过程稿、磋商信函、"
                                     "请示报告等过程性信息"),
    "withheld.enforcement_case_file": "属于行政执法案卷信息",
    "withheld.administrative_query": "属于工商、不动产登记资料等有关法律、行政法规对信息的获取有特别规定的信息",
}


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def cn_date(value: Any) -> str:
    """2026年3月16日; free text (e.g. "工作日9:00—17:00") is printed as given; None prints nothing."""
    if value is None or value == "":
        return ""
    day = _as_date(value)
    if day is None:
        return str(value)
    return f"{day.year}年{day.month}月{day.day}日"


REGULATIONS = "《中华人民共和国政府信息公开条例》"
_REGULATIONS_PREFIXES = (REGULATIONS, "《政府信息公开条例》", "政府信息公开条例", "《条例》", "条例")


def cite(articles: Any) -> str:
    """"第十五条" / "条例第十五条" → 《中华人民共和国政府信息公开条例》第十五条; articles of another law (starting
    with 《…》) are cited as given: ["第十四条", "《中华人民共和国保守国家秘密法》第十三条"] →
    《中华人民共和国政府信息公开条例》第十四条和《中华人民共和国保守国家秘密法》第十三条."""
    if not articles:
        return ""
    items = [articles] if isinstance(articles, str) else list(articles)
    ours: list[str] = []
    others: list[str] = []
    for raw in items:
        article = str(raw).strip()
        for prefix in _REGULATIONS_PREFIXES:
            if article.startswith(prefix):
                article = article[len(prefix):]
                break
        else:
            if article.startswith("《"):
                others.append(article)
                continue
        if article:
            ours.append(article)
    return "和".join(([REGULATIONS + "、".join(ours)] if ours else []) + others)


def yuan(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount.quantize(Decimal('0.01')):,.2f}"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=ChainableUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cn_date"] = cn_date
    env.filters["yuan"] = yuan
    env.filters["cite"] = cite
    return env


_env = _environment()


def _group(outcome: str) -> str:
    return outcome.split(".", 1)[0]


def _label(enum: Any, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return enum(value).zh
    except ValueError:
        return value


def _withheld_part(part: Any) -> dict[str, Any]:
    if not isinstance(part, dict):
        return {"part": str(part)}
    ground, article = part.get("ground"), part.get("article") or part.get("articles")
    try:  # a ground of the vocabulary prints its label and always quotes its own article
        known = RefusalGround(ground)
        ground, article = known.zh, GROUND_ARTICLES[known]
    except ValueError:
        pass  # a free-text ground recorded before the vocabulary: printed as recorded
    return {"part": part.get("part") or part.get("what") or part.get("description"), "ground": ground,
            "article": article, "reason": part.get("reason") or part.get("why")}


def contact_line(organ: KnownOrgan | None) -> str | None:
    """The organ's contact line from its 公开指南 facts (地址、电话、办公时间); None when it announced none."""
    if organ is None:
        return None
    parts = [f"{label}：{value}" for label, value in (("地址", organ.office_address), ("电话", organ.phone),
                                                     ("办公时间", organ.office_hours)) if value]
    return "；".join(parts) or None


async def next_number(session: AsyncSession, prefix: str, kind: str, year: int) -> str:
    """The next 文号 of `prefix` (the organ's 简称) in the series of `kind` for `year`: one atomic upsert (INSERT …
    ON CONFLICT DO UPDATE … RETURNING), so two letters issued at once never draw the same serial, and a rolled-back
    issue gives its serial back with its transaction."""
    series = SERIES[kind]
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(LetterSerial).values(prefix=prefix, year=year, series=series, last_serial=1)
    statement = statement.on_conflict_do_update(
        index_elements=[LetterSerial.prefix, LetterSerial.year, LetterSerial.series],
        set_={"last_serial": LetterSerial.last_serial + 1}).returning(LetterSerial.last_serial)
    serial = (await session.execute(statement)).scalar_one()
    return f"{prefix}{series}〔{year}〕{serial}号"


async def letter_context(session: AsyncSession, app: Application, kind: str,
                         context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values a template sees: the application's facts, then `context` on top."""
    extra = dict(context or {})
    for alias, key in ALIASES.get(kind, {}).items():
        if alias in extra and key not in extra:
            extra[key] = extra.pop(alias)
    organ = await session.get(KnownOrgan, app.organ_code)
    ctx: dict[str, Any] = {
        "kind": kind, "title": LetterKind(kind).zh, "organ_name": organ.name if organ else app.organ_code,
        "organ_short_name": (organ.short_name if organ else None) or (organ.name if organ else app.organ_code),
        "contact": contact_line(organ),
        "tracking_no": app.tracking_no, "addressee": app.applicant_name, "applicant_name": app.applicant_name,
        "info_title": app.info_title, "received_on": app.receipt_date, "issued_on": today(),
    }
    if kind == LetterKind.REPLY.value:
        outcome = extra.get("outcome") or app.outcome
        if not outcome:
            raise LetterOutcomeMissing("A reply letter needs the outcome (办理结果) of the application.")
        already = bool(extra.get("already_published", app.published_document_id is not None))
        not_ours = bool(extra.get("not_ours") or extra.get("competent_organ"))
        key = ("granted.already_published" if outcome == "granted" and already
               else "unable.not_held.not_ours" if outcome == "unable.not_held" and not_ours else outcome)
        ctx.update(outcome=outcome, outcome_label=_label(Outcome, outcome), group=_group(outcome),
                   already_published=already, not_ours=not_ours,
                   articles=list(extra.pop("articles", None) or app.reply_articles or DEFAULT_ARTICLES.get(key, [])),
                   reasons=app.reply_reasons, ground_text=WITHHELD_GROUNDS.get(outcome, ""),
                   delivery_method=_label(Delivery, app.delivery),
                   withheld_parts=app.withheld_parts or [],
                   supplement_due_on=app.supplement_due_on, fee_noticed_on=app.fee_noticed_on,
                   fee_amount=app.fee_amount, fee_due_on=app.fee_due_on,
                   explanation_requested_on=app.explanation_requested_on,
                   no_reasons_given=app.explanation_judgement == "none_given")
    elif kind == LetterKind.SUPPLEMENT_NOTICE.value:
        ctx.update(items=[], supplement_due_on=app.supplement_due_on)
    elif kind == LetterKind.EXTENSION_NOTICE.value:
        ctx.update(extension_days=app.extension_days or None, new_due_on=app.due_on,
                   new_due_provisional=app.due_provisional, approver=app.extension_approved_by,
                   reason=app.extension_reason)
    elif kind == LetterKind.CONSULTATION_LETTER.value:
        ctx.update(info_description=app.info_title, party_kind="third_party")
    elif kind == LetterKind.FEE_NOTICE.value:
        ctx.update(fee_amount=app.fee_amount, fee_method=app.fee_method, fee_pages=app.fee_pages,
                   fee_due_on=app.fee_due_on)
    elif kind == LetterKind.EXPLANATION_REQUEST.value:
        ctx.update(explanation_due_on=app.explanation_due_on)
    elif kind == LetterKind.DEFERRAL_NOTICE.value:
        ctx.update(deferred_due_on=app.deferred_due_on, reason=app.deferral_reason,
                   explanation_requested_on=app.explanation_requested_on,
                   explanation_received_on=app.explanation_received_on)
    elif kind == LetterKind.RECEIPT.value:
        ctx.update(submitted_on=app.submitted_at, channel_label=_label(Channel, app.channel), due_on=app.due_on,
                   due_provisional=app.due_provisional)
    ctx.update(extra)
    ctx["issued_on"] = today()
    for key in ("items", "provided_items", "articles"):
        if key in ctx and not ctx[key]:
            ctx[key] = []
        elif key in ctx and isinstance(ctx[key], str):
            ctx[key] = [ctx[key]]
    if kind == LetterKind.CONSULTATION_LETTER.value:
        ctx["addressee"] = ctx.get("party_name") or "第三方"
        ctx["co_author"] = ctx.get("party_kind") == "co_author_organ"
    if kind == LetterKind.FEE_NOTICE.value:
        if ctx.get("fee_method") == FeeMethod.PER_APPLICATION.value and "nth" not in ctx and app.receipt_date:
            ctx["nth"] = await application_rank(session, app)
        ctx.setdefault("fee_method_label", _label(FeeMethod, ctx.get("fee_method")))
        ctx.setdefault("fee_standard", STANDARD.get(ctx.get("fee_method") or ""))
    if "withheld_parts" in ctx:
        ctx["withheld_parts"] = [_withheld_part(p) for p in ctx["withheld_parts"] or []]
    return ctx


def render_html(kind: str, ctx: dict[str, Any]) -> str:
    return _env.get_template(f"{kind}.html.j2").render(ctx)


async def issue_letter(session: AsyncSession, app: Application, kind: str, actor_sub: str,
                       context: dict | None = None) -> Letter:
    """Render the letter `kind` (LetterKind value) for `app` and store it (html, sha256, issued_on = today in
    Asia/Shanghai, its 文号 drawn from the organ's series of the kind for the year). Raises UnknownLetterKind (422)
    or, for a reply without an outcome, LetterOutcomeMissing."""
    if kind not in {k.value for k in LetterKind}:
        raise UnknownLetterKind(f"Unknown letter kind {kind!r}.")
    ctx = await letter_context(session, app, kind, context)
    issued_on = _as_date(ctx["issued_on"]) or today()
    ctx["letter_number"] = await next_number(session, ctx["organ_short_name"], kind, issued_on.year)
    body = render_html(kind, ctx)
    letter = Letter(application_id=app.id, kind=kind, number=ctx["letter_number"], html=body,
                    sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(), issued_on=issued_on,
                    created_by=actor_sub)
    session.add(letter)
    await session.flush()
    return letter


async def letters_of(session: AsyncSession, application_id: str) -> list[Letter]:
    """Every letter of an application, oldest first (for staff lists and the applicant's tracking page)."""
    return list((await session.execute(
        select(Letter).where(Letter.application_id == application_id)
        .order_by(Letter.issued_on, Letter.created_at, Letter.id))).scalars())


async def get_letter(session: AsyncSession, application_id: str, letter_id: str) -> Letter:
    letter = (await session.execute(select(Letter).where(Letter.id == letter_id,
                                                         Letter.application_id == application_id))
              ).scalar_one_or_none()
    if letter is None:
        raise LetterNotFound(f"Letter {letter_id} does not exist.")
    return letter
