"""Handling an application: the state machine with roles (legal-rules §1.12).

intake clerk (受理) registers and confirms receipt; handler (承办) processes, consults, requests supplements, sends
fee notices and drafts the reply; reply approver (答复审核签发) approves extensions and signs the reply off (never the
same person who drafted it). Every transition needs If-Match, is refused for a wrong role or another organ, is
logged as a HandlingStep and published on the event feed.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.config import Settings
from request_service.domain import clock, fees, letters, proactive
from request_service.domain.applications import HANDLING_ROLES, SHANGHAI, add_step, is_handling_staff, today
from request_service.domain.calendar import Calendar, current_calendar
from request_service.domain.events import emit_application_event
from request_service.errors import (
    ClosureNoticeMissing,
    ClosurePeriodRunning,
    DeferredDueDateInvalid,
    ExplanationNotRequested,
    ExplanationPeriodRunning,
    ExplanationReasonsMissing,
    ExtensionAlreadyGranted,
    ExtensionTooLong,
    InvalidTransition,
    NoticeNotDelivered,
    ReplyPeriodExpired,
    WithholdingGroundInvalid,
    WrongRole,
)
from request_service.models import Application, HandlingStep, Letter, ThirdPartyConsultation
from request_service.vocab import BREACH_ARTICLES, GROUND_ARTICLES, Breach, RefusalGround
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.db import utcnow
from services.errors import AppError, UnprocessableEntity

__all__ = ["RULES", "Action", "WrongRole", "accept", "allowed_actions", "expire", "is_staff", "open_consultations",
           "refusal", "transition"]

is_staff = is_handling_staff


async def accept(session: AsyncSession, app: Application, receipt_date: date, principal: Principal, *,
                 role: str, action: str = "accept", comment: str | None = None,
                 calendar: Calendar | None = None) -> None:
    """The 第三十一条 receipt date is known: the application is accepted and the 20-working-day clock starts.
    `calendar`: the current calendar if the caller has it already (intake reads it with its other look-ups)."""
    status_before = app.status
    app.receipt_date = receipt_date
    app.status = "accepted"
    await clock.start(session, app, receipt_date)
    await clock.recompute(session, app, calendar or await current_calendar(session), today())
    await add_step(session, app, principal, action=action, role=role, status_before=status_before,
                   comment=comment)
    await emit_application_event(session, app, "application.accepted")


# ---------------------------------------------------------------------------------------------------------------
# The state machine. Each action: who may do it, from which statuses.




OPEN = frozenset({"received", "accepted", "supplement_requested", "consulting", "awaiting_fee", "reply_drafted"})
WITHHELD_OR_PARTIAL = "withheld."


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    from_states: frozenset[str]


def _r(roles: set[str], states: set[str]) -> Rule:
    return Rule(frozenset(roles), frozenset(states))


RULES: dict[str, Rule] = {
    "confirm": _r({"intake_clerk"}, {"received"}),
    "assign": _r({"intake_clerk", "reply_approver"}, OPEN - {"received"}),
    "request_supplement": _r({"handler"}, {"accepted"}),
    "receive_supplement": _r({"intake_clerk", "handler"}, {"supplement_requested"}),
    "close_unsupplemented": _r({"handler"}, {"supplement_requested"}),
    "accept_late_supplement": _r({"handler"}, {"closed"}),
    "consult": _r({"handler"}, {"accepted", "consulting"}),
    "record_opinion": _r({"handler"}, {"consulting"}),
    "extend": _r({"reply_approver"}, {"accepted", "consulting", "awaiting_fee", "reply_drafted"}),
    "request_explanation": _r({"handler"}, {"accepted", "consulting"}),
    "record_explanation": _r({"handler", "intake_clerk"}, {"accepted", "consulting"}),
    "defer": _r({"reply_approver"}, {"accepted", "consulting", "reply_drafted"}),
    "record_delivery": _r({"intake_clerk", "handler"}, {"supplement_requested", "awaiting_fee", "accepted",
                                                        "consulting"}),
    "notify_fee": _r({"handler"}, {"accepted"}),
    "record_payment": _r({"handler", "intake_clerk"}, {"awaiting_fee"}),
    "waive_fee": _r({"reply_approver"}, {"awaiting_fee"}),
    "close_unpaid": _r({"handler"}, {"awaiting_fee"}),
    "draft_reply": _r({"handler"}, {"accepted"}),
    "return_reply": _r({"reply_approver"}, {"reply_drafted"}),
    "approve_reply": _r({"reply_approver"}, {"reply_drafted"}),
}


@dataclass
class Action:
    """What a transition carries (validated by the API schemas)."""

    comment: str | None = None
    on: date | None = None  # the date the thing happened (confirmation, notice sent, supplement received …)
    method: str | None = None
    handler_sub: str | None = None
    items: list[str] = field(default_factory=list)
    party_kind: str | None = None
    party_name: str | None = None
    received_by_party_on: date | None = None
    consultation_id: str | None = None
    opinion: str | None = None
    days: int | None = None
    due_on: date | None = None
    fee_method: str | None = None
    pages: int | None = None
    amount: Decimal | None = None
    outcome: str | None = None
    articles: list[str] = field(default_factory=list)
    withheld_parts: list[dict[str, Any]] = field(default_factory=list)
    published_document_id: str | None = None
    letter_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _invalid(field_name: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(message, errors=[{"loc": ["body", field_name], "msg": message, "type": "value_error"}])


def _role(principal: Principal, rule: Rule, action: str) -> str:
    for role in sorted(rule.roles):
        if role in principal.roles:
            return role
    raise WrongRole(f"'{action}' needs one of the roles: {', '.join(sorted(rule.roles))}.")


async def refusal(session: AsyncSession, principal: Principal, app: Application, action: str, *,
                  calendar: Calendar | None = None) -> AppError | None:
    """Why `principal` may not take `action` on `app` now, whatever the request carries; None when they may.

    The one guard of the state machine: `transition` raises what this returns before any handler runs, and the
    record's `actions` list is the actions this returns None for — so an action listed is never refused for role,
    state or the record's own preconditions (403/409), and one not listed always is. What depends on the request
    (a missing reason, a backdated `on`) is the handler's to check afterwards (422)."""
    rule = RULES[action]
    try:
        _role(principal, rule, action)
    except WrongRole as exc:
        return exc
    if app.status not in rule.from_states:
        return InvalidTransition(f"'{action}' is not possible while the application is {app.status}.")
    if action == "approve_reply" and app.reply_drafted_by == principal.sub:
        return WrongRole("The person who drafted the reply cannot also sign it off (separation of duties).")
    if action == "request_supplement":
        earlier = (await session.execute(select(HandlingStep.id).where(
            HandlingStep.application_id == app.id, HandlingStep.action == "request_supplement"))).first()
        if earlier:
            return InvalidTransition("A supplement was already requested once (一次性告知); it cannot be requested "
                                     "again.")
    if action == "extend" and app.extension_days:
        return ExtensionAlreadyGranted(
            f"条例第三十三条第二款: 延长答复期限只能一次; it was extended on {app.extension_decided_on} "
            f"by {app.extension_days} working days.")
    if action in EXPIRY_ARTICLES:
        ended = await clock.expired_on(session, app, calendar or await current_calendar(session), today())
        if ended is not None:
            return ReplyPeriodExpired(f"{EXPIRY_ARTICLES[action]}; the reply period ended on {ended.isoformat()}.")
    if action in CLOSURES:
        try:  # judged on today: a closure the record does not allow today it allows on no earlier day either
            _check_closure(app, CLOSURES[action], today())
        except AppError as exc:
            return exc
    if action == "defer":  # 第三十五条: only after the applicant was asked to explain and gave reasons
        try:
            _require_explanation(app, today(), "延迟答复", reasons_needed=True)
        except AppError as exc:
            return exc
    if action == "request_explanation" and app.explanation_requested_on is not None:
        return InvalidTransition(f"{ARTICLE_35}: the applicant was already asked to explain on "
                                 f"{app.explanation_requested_on}.")
    if action == "record_explanation":
        if app.explanation_requested_on is None:
            return ExplanationNotRequested(f"{ARTICLE_35}: the applicant was never asked to explain (说明理由).")
        if app.explanation_received_on is not None:
            return InvalidTransition(f"{ARTICLE_35}: the applicant's reasons were recorded on "
                                     f"{app.explanation_received_on}.")
    if action == "accept_late_supplement" and app.outcome != NO_SUPPLEMENT:
        return InvalidTransition("条例第三十条: 有正当理由逾期补正的，不视为放弃申请; only an application closed as "
                                 f"视为放弃 (no supplement) is re-opened, this one was closed as {app.outcome}.")
    return None


async def allowed_actions(session: AsyncSession, principal: Principal, app: Application) -> list[str]:
    """The actions `principal` may take on `app` now (`refusal` is None), in the table's order."""
    if not is_handling_staff(principal) or principal.organ != app.organ_code:
        return []
    calendar = await current_calendar(session)
    return [action for action in RULES if await refusal(session, principal, app, action, calendar=calendar) is None]


async def transition(session: AsyncSession, principal: Principal, app: Application, action: str, data: Action,
                     if_match: str | None, settings: Settings) -> Application:
    rule = RULES[action]
    role = _role(principal, rule, action)
    require_if_match(if_match, app.version)
    calendar = await current_calendar(session)
    refused = await refusal(session, principal, app, action, calendar=calendar)
    if refused is not None:
        raise refused
    status_before = app.status
    await bump_version(session, app, app.version)
    day = data.on or today()
    if day > today():
        raise _invalid("on", "the date cannot be in the future")
    # The ledger cannot record a change before the segment that runs now began (clock.switch refuses it); say so
    # about the date given, before anything is written.
    current = clock.open_segment(await clock.segments_of(session, app.id))
    if current is not None and day < current.start_on:
        raise _invalid("on", f"the date cannot be before the clock's current period began ({current.start_on})")
    ctx = _Ctx(session, principal, app, data, settings, calendar, day, role)
    await _HANDLERS[action](ctx)
    if app.status in OPEN:
        await clock.recompute(session, app, calendar, today())
    await add_step(session, app, principal, action=action, role=role, status_before=status_before,
                   comment=data.comment)
    await emit_application_event(session, app, f"application.{action}")
    await session.flush()
    return app


@dataclass
class _Ctx:
    session: AsyncSession
    principal: Principal
    app: Application
    data: Action
    settings: Settings
    calendar: Any
    day: date
    role: str


async def _confirm(c: _Ctx) -> None:
    """第三十一条: ordinary letters, online, e-mail and fax are received on the day both sides confirm."""
    if c.day < c.app.submitted_at.astimezone(SHANGHAI).date():
        raise _invalid("on", "confirmation cannot precede the submission")
    c.app.confirmed_at = utcnow()
    c.app.confirmation_method = c.data.method
    c.app.confirmed_by = c.principal.sub
    c.app.receipt_date = c.day
    c.app.status = "accepted"
    await clock.start(c.session, c.app, c.day)


async def _assign(c: _Ctx) -> None:
    if not c.data.handler_sub:
        raise _invalid("handler_sub", "name the handler (承办人)")
    c.app.handler_sub = c.data.handler_sub


async def _request_supplement(c: _Ctx) -> None:
    """补正: one notice only (一次性告知), naming the items and a reasonable deadline; the clock stops."""
    if not c.data.items:
        raise _invalid("items", "list what must be supplemented (补正事项)")
    days = c.data.days or c.settings.supplement_days
    delivered = _delivered_when_sent(c.app, c.day)
    c.app.supplement_due_on = c.calendar.add_working_days(delivered, days)[0] if delivered else None
    c.app.status = "supplement_requested"
    await clock.switch(c.session, c.app, "stopped", c.day, clock.BASIS["supplement"])
    # 第三十条: the notice is due within 7 working days of receipt. A late one is still better for the applicant than
    # none, so it is allowed — but recorded as a breach and published with the application (legal-rules §1.13).
    late = c.app.supplement_notice_due_on is not None and c.day > c.app.supplement_notice_due_on
    if late:
        _record_breach(c.app, Breach.LATE_SUPPLEMENT_NOTICE, c.day, c.app.supplement_notice_due_on)
    notice = await letters.issue_letter(c.session, c.app, "supplement_notice", c.principal.sub, {
        "items": c.data.items, "supplement_due_on": c.app.supplement_due_on, "supplement_days": days})
    _sent(notice, c.app, delivered, days)


# Notices whose window the law runs from the applicant's receipt (legal-rules §1.13; 109号 "收到收费通知次日起"): the
# application's field the window's last day goes in. Electronic delivery is the day sent; post (and collection in
# person) is the day signed for, entered by staff (record_delivery) — until then the window has not started.
NOTICE_WINDOWS = {"supplement_notice": "supplement_due_on", "fee_notice": "fee_due_on",
                  "explanation_request": "explanation_due_on"}
ELECTRONIC = frozenset({"email", "online", "fax"})  # vocab.Delivery; mail and pickup are signed for


def _delivered_when_sent(app: Application, sent_on: date) -> date | None:
    return sent_on if app.delivery in ELECTRONIC else None


def _sent(notice: Letter, app: Application, delivered: date | None, days: int) -> None:
    notice.delivery_channel = "electronic" if app.delivery in ELECTRONIC else "post"
    notice.delivered_on, notice.window_days = delivered, days


async def _notice_sent_on(c: _Ctx, notice: Letter) -> date | None:
    if notice.kind == "fee_notice":
        return c.app.fee_noticed_on
    if notice.kind == "explanation_request":
        return c.app.explanation_requested_on
    stopped = [s for s in await clock.segments_of(c.session, c.app.id) if s.state == "stopped"]
    return stopped[-1].start_on if stopped else None


async def _record_delivery(c: _Ctx) -> None:
    """The day a notice sent by post was signed for (送达): its window starts counting from it."""
    notice = await c.session.get(Letter, c.data.letter_id or "")
    if notice is None or notice.application_id != c.app.id or notice.kind not in NOTICE_WINDOWS:
        raise _invalid("letter_id", "no notice of this application whose window runs from its delivery")
    if notice.delivered_on is not None:
        raise InvalidTransition(f"The {notice.kind} was delivered on {notice.delivered_on} "
                                f"({notice.delivery_channel}); its delivery is recorded once.")
    sent_on = await _notice_sent_on(c, notice)
    if sent_on is not None and c.day < sent_on:
        raise _invalid("on", f"the notice cannot arrive before it was sent ({sent_on})")
    notice.delivered_on, notice.delivery_recorded_by = c.day, c.principal.sub
    setattr(c.app, NOTICE_WINDOWS[notice.kind], c.calendar.add_working_days(c.day, notice.window_days or 0)[0])


def _record_breach(app: Application, breach: Breach, on: date, due_on: date | None) -> None:
    # A new list, not an in-place append: the JSON column is not mutation-tracked.
    app.breaches = [*(app.breaches or []), {
        "code": breach.value, "article": BREACH_ARTICLES[breach], "on": on.isoformat(),
        "due_on": due_on.isoformat() if due_on else None, "label_zh": breach.zh, "label_en": breach.en}]


async def _receive_supplement(c: _Ctx) -> None:
    if c.day < (await clock.segments_of(c.session, c.app.id))[-1].start_on:
        raise _invalid("on", "the supplement cannot be received before it was requested")
    c.app.status = "accepted"
    # supplement_due_on stays: it is the period the notice set, which a 三（六）1 closure is judged against.
    c.app.supplement_received_on = c.day
    await clock.switch(c.session, c.app, "running", c.day, clock.BASIS["supplement_received"], restart=True)


async def _accept_late_supplement(c: _Ctx) -> None:
    """正当理由 (第三十条 "无正当理由逾期不补正的，视为放弃"): the handler judges the reason for a late supplement good
    and records it; the application closed as 视为放弃 is re-opened and the 20 working days count again from the
    day the supplement was received. The closure's 三（六）1 row goes with it: the statistics move the application
    back to open (a signed-off report shows the change as a discrepancy)."""
    if not c.data.comment:  # (only a 视为放弃 closure is re-opened: refusal())
        raise _invalid("comment", "record the good reason (正当理由) for the late supplement")
    segments = await clock.segments_of(c.session, c.app.id)
    noticed = next((s.start_on for s in reversed(segments) if s.state == "stopped"), c.app.receipt_date)
    if noticed is not None and c.day < noticed:
        raise _invalid("on", "the supplement cannot be received before it was requested")
    closed_on = c.app.closed_on
    c.app.status = "accepted"
    c.app.outcome = None
    c.app.closed_on = None
    c.app.supplement_received_on = c.day
    c.app.good_cause_reason = c.data.comment
    c.app.good_cause_decided_by = c.principal.sub
    c.app.good_cause_decided_on = today()
    c.app.reopened_closure_on = closed_on
    await clock.switch(c.session, c.app, "running", c.day, clock.BASIS["supplement_received"], restart=True,
                       note=f"正当理由逾期补正，撤销{closed_on}视为放弃的终止")


async def _close(c: _Ctx, outcome: str, kind_ctx: dict[str, Any]) -> None:
    c.app.status = "closed"
    c.app.outcome = outcome
    c.app.closed_on = c.day
    await clock.switch(c.session, c.app, "closed", c.day, clock.BASIS["closed"])
    await letters.issue_letter(c.session, c.app, "reply", c.principal.sub, {"outcome": outcome, **kind_ctx})


# Closures that presuppose a notice (legal-rules §1.13): the outcome and the record must agree, else the annual
# report counts 视为放弃 or 补正后仍不明确 for applicants who were never asked.
NO_SUPPLEMENT, FEE_UNPAID, STILL_UNCLEAR = "other.no_supplement", "other.fee_unpaid", \
    "unable.still_unclear_after_supplement"


# The closures whose outcome is fixed by the action: `refusal` checks them on today's record.
CLOSURES = {"close_unsupplemented": NO_SUPPLEMENT, "close_unpaid": FEE_UNPAID}


def _check_closure(app: Application, outcome: str, day: date) -> None:
    """Refuse a 三（六）1 / 三（六）2 / 三（四）3 outcome the application's record does not support."""
    if outcome == NO_SUPPLEMENT:
        article = "条例第三十条: 视为放弃申请须在补正告知书所定补正期限届满而申请人无正当理由逾期不补正之后"
        if app.supplement_due_on is None and app.status == "supplement_requested":
            raise NoticeNotDelivered(f"{article}; the 补正 period runs from the applicant's receipt of the notice, "
                                     "and its delivery is not recorded yet.")
        if app.supplement_due_on is None:
            raise ClosureNoticeMissing(f"{article}; no 补正 notice was sent or delivered on this application.")
        if app.supplement_received_on is not None and app.supplement_received_on <= app.supplement_due_on:
            raise ClosureNoticeMissing(f"{article}; the supplement was received on {app.supplement_received_on}, "
                                       f"within the period ending {app.supplement_due_on}.")
        if day <= app.supplement_due_on:
            raise ClosurePeriodRunning(f"{article}; the applicant has until {app.supplement_due_on} to supplement.")
    elif outcome == FEE_UNPAID:
        article = "国办函〔2020〕109号: 逾期未缴纳信息处理费视为放弃申请，须在收费通知所定缴费期限届满之后"
        if app.fee_due_on is None and app.fee_noticed_on is not None:
            raise NoticeNotDelivered(f"{article}; the payment window runs from the day after the applicant received "
                                     "the fee notice (收到收费通知次日起), and its delivery is not recorded yet.")
        if app.fee_due_on is None:
            raise ClosureNoticeMissing(f"{article}; no fee notice (收费通知) was sent on this application.")
        if app.fee_paid_on is not None or app.fee_waived:
            raise ClosureNoticeMissing(f"{article}; the fee was {'waived' if app.fee_waived else 'paid'}.")
        if day <= app.fee_due_on:
            raise ClosurePeriodRunning(f"{article}; the applicant has until {app.fee_due_on} to pay.")
    elif outcome == STILL_UNCLEAR and app.supplement_received_on is None:
        raise ClosureNoticeMissing("条例第三十条: 补正后申请内容仍不明确须以补正告知并收到补正为前提; no supplement "
                                   "was received on this application.")


async def _close_unsupplemented(c: _Ctx) -> None:
    _check_closure(c.app, NO_SUPPLEMENT, c.day)
    await _close(c, NO_SUPPLEMENT, {})


async def _consult(c: _Ctx) -> None:
    """征求意见 (第三十二条 third party / 第三十四条 co-author organ): the clock pauses from the day after sending."""
    if c.data.party_kind not in ("third_party", "co_author_organ") or not c.data.party_name:
        raise _invalid("party_name", "name the party consulted and its kind")
    received = c.data.received_by_party_on or c.day
    if received < c.day:
        raise _invalid("received_by_party_on", "the party cannot receive the letter before it is sent")
    due = c.calendar.add_working_days(received, c.settings.consultation_days)[0]
    c.session.add(ThirdPartyConsultation(application_id=c.app.id, party_kind=c.data.party_kind,
                                         party_name=c.data.party_name, sent_on=c.day,
                                         received_by_party_on=received, due_on=due))
    if c.app.status == "accepted":
        basis = clock.BASIS["third_party" if c.data.party_kind == "third_party" else "co_author"]
        await clock.switch(c.session, c.app, "paused", c.day, basis)
    c.app.status = "consulting"
    await letters.issue_letter(c.session, c.app, "consultation_letter", c.principal.sub,
                               {"party_name": c.data.party_name, "party_kind": c.data.party_kind,
                                "party_due_on": due})


async def open_consultations(session: AsyncSession, application_id: str) -> list[ThirdPartyConsultation]:
    return list((await session.execute(select(ThirdPartyConsultation).where(
        ThirdPartyConsultation.application_id == application_id, ThirdPartyConsultation.opinion.is_(None))
    )).scalars())


async def _resume_if_done(session: AsyncSession, app: Application, ended_on: date) -> None:
    if not await open_consultations(session, app.id):
        app.status = "accepted"
        await clock.switch(session, app, "running", ended_on, clock.BASIS["consultation_over"])


async def _record_opinion(c: _Ctx) -> None:
    consultation = await c.session.get(ThirdPartyConsultation, c.data.consultation_id or "")
    if consultation is None or consultation.application_id != c.app.id or consultation.opinion is not None:
        raise _invalid("consultation_id", "no open consultation with that id on this application")
    if c.data.opinion not in ("consent", "object"):
        raise _invalid("opinion", "consent or object")
    if c.day < consultation.sent_on:
        raise _invalid("on", "the reply cannot precede the letter")
    consultation.opinion, consultation.replied_on, consultation.reasons = c.data.opinion, c.day, c.data.comment
    await c.session.flush()
    await _resume_if_done(c.session, c.app, c.day)


# Decisions the 条例 ties to the running period are taken before it ends — on the service's own today
# (Asia/Shanghai), never a date the caller gives: a backdated decision is what this guards against (`refusal`).
EXPIRY_ARTICLES = {
    "extend": "条例第三十三条第二款: 延长答复期限须在答复期限届满前决定",
    "defer": "条例第三十五条: 延迟答复须在答复期限届满前决定",
    "request_explanation": "条例第三十五条: 要求申请人说明理由须在答复期限届满前",
}


async def _refuse_if_expired(c: _Ctx, article: str) -> None:
    """For a decision the request's body chooses (不予处理 through draft-reply), which `refusal` cannot see: taken
    before the period ends, on the service's own today (Asia/Shanghai), never a date the caller gives."""
    ended = await clock.expired_on(c.session, c.app, c.calendar, today())
    if ended is not None:
        raise ReplyPeriodExpired(f"{article}; the reply period ended on {ended.isoformat()}.")


async def _extend(c: _Ctx) -> None:
    """延期 (第三十三条第二款): before the period ends, once, at most 20 working days, with the consent of the office
    head (the approver, recorded with the day of the decision) and a notice to the applicant."""
    if not c.data.days or not 1 <= c.data.days <= clock.REPLY_DAYS:
        raise ExtensionTooLong("条例第三十三条第二款: 延长的期限最长不得超过20个工作日.",
                               errors=[{"loc": ["body", "days"], "msg": "1 to 20 working days",
                                        "type": "value_error"}])
    if not c.data.comment:
        raise _invalid("comment", "give the reason for the extension")
    c.app.extension_days = c.data.days
    c.app.extension_approved_by = c.principal.sub
    c.app.extension_decided_on = today()
    c.app.extension_reason = c.data.comment
    state = await clock.recompute(c.session, c.app, c.calendar, today())
    await letters.issue_letter(c.session, c.app, "extension_notice", c.principal.sub, {
        "extension_days": c.data.days, "new_due_on": state.due_on, "approver": c.principal.name or c.principal.sub,
        "reasons": c.data.comment})


ARTICLE_35 = "条例第三十五条"


async def _request_explanation(c: _Ctx) -> None:
    """第三十五条, step 1: the number or frequency of the applicant's requests clearly exceeds a reasonable range, so
    the organ asks them to explain (说明理由) within a window, by a notice letter. The reply clock keeps running
    (the statute stops it for 补正 and consultations only): the decision that follows must still precede expiry."""
    if not c.data.comment:  # (asked once only: refusal())
        raise _invalid("comment", "say why the volume or frequency exceeds a reasonable range")
    if c.app.receipt_date is not None and c.day < c.app.receipt_date:
        raise _invalid("on", "the notice cannot precede the receipt of the application")
    days = c.data.days or c.settings.explanation_days
    c.app.explanation_requested_on = c.day
    delivered = _delivered_when_sent(c.app, c.day)
    c.app.explanation_due_on = c.calendar.add_working_days(delivered, days)[0] if delivered else None
    notice = await letters.issue_letter(c.session, c.app, "explanation_request", c.principal.sub, {
        "explanation_due_on": c.app.explanation_due_on, "explanation_days": days, "grounds": c.data.comment})
    _sent(notice, c.app, delivered, days)


async def _record_explanation(c: _Ctx) -> None:
    """第三十五条, step 2: the applicant's reasons, as given, and the day they arrived (asked first, recorded once:
    refusal())."""
    if not c.data.comment:
        raise _invalid("comment", "record the applicant's reasons as given")
    if c.day < c.app.explanation_requested_on:
        raise _invalid("on", "the reasons cannot arrive before they were asked for")
    c.app.explanation_received_on = c.day
    c.app.explanation_reasons = c.data.comment


def _require_explanation(app: Application, day: date, decision: str, *, reasons_needed: bool) -> None:
    """Step 3 needs steps 1 and 2: asked, then reasons recorded — or, for 不予处理, the window ran out unanswered."""
    if app.explanation_requested_on is None:
        raise ExplanationNotRequested(f"{ARTICLE_35}: {decision}须先要求申请人说明理由; "
                                      "the applicant was never asked.")
    if app.explanation_received_on is not None:
        return
    if app.explanation_due_on is None:
        raise NoticeNotDelivered(f"{ARTICLE_35}: {decision}; the applicant's window to explain runs from their "
                                 "receipt of the notice, and its delivery is not recorded yet.")
    if day <= app.explanation_due_on:
        raise ExplanationPeriodRunning(f"{ARTICLE_35}: {decision}; the applicant has until "
                                       f"{app.explanation_due_on} to explain, and no reasons are recorded yet.")
    if reasons_needed:
        raise ExplanationReasonsMissing(f"{ARTICLE_35}: {decision}须以申请人说明的理由合理为前提; no reasons were "
                                        f"given by {app.explanation_due_on}.")


async def _defer(c: _Ctx) -> None:
    """第三十五条, step 3 (reasons judged reasonable): a reasonable deferred deadline after the current due date,
    decided before expiry, with a notice letter."""
    if not c.data.due_on or not c.data.comment:
        raise _invalid("due_on", "a deferred deadline and its reason are required")
    proposed, now = c.data.due_on, today()
    # The current due date; while the clock is paused, the earliest it can be (the days left, counted from today).
    state = clock.compute(await clock.segments_of(c.session, c.app.id), c.calendar, clock.allowed_days(c.app), now)
    current = clock.period_end(c.app, state) or c.calendar.add_working_days(now, state.left)[0]
    article = f"{ARTICLE_35}: 延迟答复的合理期限"
    if c.app.receipt_date is not None and proposed < c.app.receipt_date:
        why = f"cannot precede the receipt date {c.app.receipt_date}"
    elif proposed < now:
        why = f"cannot be before today ({now})"
    elif proposed <= current:
        why = f"must be after the current due date {current}"
    else:
        why = ""
    if why:
        raise DeferredDueDateInvalid(f"{article} {why}.", errors=[{"loc": ["body", "due_on"], "msg": why,
                                                                   "type": "value_error"}])
    c.app.deferred_due_on = proposed
    c.app.deferral_decided_on = now
    c.app.deferral_reason = c.data.comment
    c.app.explanation_judgement = "reasonable"
    await letters.issue_letter(c.session, c.app, "deferral_notice", c.principal.sub, {
        "original_due_on": current, "deferred_due_on": proposed, "reason": c.data.comment})


async def _notify_fee(c: _Ctx) -> None:
    if c.data.fee_method not in ("per_application", "per_volume"):
        raise _invalid("fee_method", "per_application or per_volume (one method per application)")
    amount = await fees.fee_for(c.session, c.app, c.data.fee_method, c.data.pages)
    if amount <= 0:
        raise _invalid("fee_method", "no fee is due under 国办函〔2020〕109号 for this application")
    c.app.fee_method, c.app.fee_pages, c.app.fee_amount = c.data.fee_method, c.data.pages, amount
    c.app.fee_noticed_on = c.day
    delivered = _delivered_when_sent(c.app, c.day)
    c.app.fee_due_on = c.calendar.add_working_days(delivered, c.settings.fee_payment_days)[0] if delivered else None
    c.app.status = "awaiting_fee"
    if c.settings.fee_pauses_clock:
        await clock.switch(c.session, c.app, "paused", c.day, clock.BASIS["fee"])
    notice = await letters.issue_letter(c.session, c.app, "fee_notice", c.principal.sub, {
        "fee_amount": amount, "fee_method": c.data.fee_method, "fee_due_on": c.app.fee_due_on,
        "pages": c.data.pages})
    _sent(notice, c.app, delivered, c.settings.fee_payment_days)


async def _settle_fee(c: _Ctx) -> None:
    c.app.status = "accepted"
    if c.settings.fee_pauses_clock:
        await clock.switch(c.session, c.app, "running", c.day, clock.BASIS["fee_settled"])


async def _record_payment(c: _Ctx) -> None:
    if c.data.amount is None or c.data.amount != c.app.fee_amount:
        raise _invalid("amount", f"the amount noticed is {c.app.fee_amount}")
    c.app.fee_paid_on, c.app.fee_paid_amount = c.day, c.data.amount
    await _settle_fee(c)


async def _waive_fee(c: _Ctx) -> None:
    if not c.data.comment:
        raise _invalid("comment", "give the reason for the waiver (减免)")
    c.app.fee_waived = True
    await _settle_fee(c)


async def _close_unpaid(c: _Ctx) -> None:
    _check_closure(c.app, FEE_UNPAID, c.day)
    await _close(c, FEE_UNPAID, {})


async def _draft_reply(c: _Ctx) -> None:
    outcome = c.data.outcome or ""
    if outcome.startswith(WITHHELD_OR_PARTIAL) or outcome.startswith("unable.") \
            or outcome.startswith("not_processed."):
        if not c.data.comment:
            raise _invalid("comment", "a reply that does not grant needs its reasons (说明理由)")
    if outcome == "partially_granted" and not c.data.withheld_parts:
        raise _invalid("withheld_parts", "a partial grant records what was withheld and why (条例第三十七条)")
    _check_closure(c.app, outcome, c.day)
    parts = [_withheld_part(n, part) for n, part in enumerate(c.data.withheld_parts)]
    articles = list(c.data.articles)
    if outcome.startswith(WITHHELD_OR_PARTIAL):
        # The outcome is the ground (its row of table 三); the reply cites its article whatever else it cites.
        ground_article = GROUND_ARTICLES[RefusalGround(outcome.removeprefix(WITHHELD_OR_PARTIAL))]
        if not any(_same_article(ground_article, a) for a in articles):
            articles.insert(0, ground_article)
    if outcome == EXCESSIVE:
        # 第三十五条: 不予处理 only after the applicant was asked to explain and gave no (reasonable) reasons, and
        # before the period ran out, like the deferral that is its alternative.
        await _refuse_if_expired(c, f"{ARTICLE_35}: 不予处理须在答复期限届满前决定")
        _require_explanation(c.app, c.day, "不予处理", reasons_needed=False)
        c.app.explanation_judgement = "unreasonable" if c.app.explanation_received_on else "none_given"
    c.app.outcome = outcome
    c.app.reply_articles = articles
    c.app.reply_reasons = c.data.comment
    c.app.withheld_parts = parts
    c.app.published_document_id = c.data.published_document_id
    c.app.reply_drafted_by = c.principal.sub
    c.app.status = "reply_drafted"


EXCESSIVE = "not_processed.excessive_volume"
_GROUNDS_TEXT = "、".join(f"{g.value}（{g.zh}，{GROUND_ARTICLES[g]}）" for g in RefusalGround)


def _same_article(a: str, b: str) -> bool:
    def bare(text: str) -> str:
        text = text.strip()
        for prefix in ("《中华人民共和国政府信息公开条例》", "《政府信息公开条例》", "条例"):
            text = text.removeprefix(prefix)
        return text
    return bare(a) == bare(b)


def _withheld_part(n: int, part: dict[str, Any]) -> dict[str, Any]:
    """A withheld part's ground is one of the vocabulary (RefusalGround), its article the ground's; free text
    only explains (legal-rules §1.13). "领导不同意" is no ground of the 条例."""
    article_rule = ("条例第三十六条第（三）项、第三十七条: 不予公开的理由须为条例第十四、十五、十六条"
                    "或第三十六条第（七）项规定的情形（区分处理另可为不属于政府信息的内容）")
    try:
        ground = RefusalGround(part.get("ground"))
    except ValueError:
        raise WithholdingGroundInvalid(
            f"{article_rule}; {part.get('ground')!r} is not one of them. Grounds: {_GROUNDS_TEXT}.",
            errors=[{"loc": ["body", "withheld_parts", n, "ground"], "msg": "not a ground of the 条例",
                     "type": "enum"}]) from None
    article = GROUND_ARTICLES[ground]
    if part.get("article") and not _same_article(part["article"], article):
        raise WithholdingGroundInvalid(
            f"{article_rule}; the ground {ground.value} rests on {article}, not {part['article']}.",
            errors=[{"loc": ["body", "withheld_parts", n, "article"], "msg": f"the ground's article is {article}",
                     "type": "value_error"}])
    return {"description": part.get("description"), "ground": ground.value, "ground_label": ground.zh,
            "article": article, "reason": part.get("reason")}


async def _return_reply(c: _Ctx) -> None:
    if not c.data.comment:
        raise _invalid("comment", "say what must change")
    c.app.status = "accepted"


# What the reply letter states about the application and the drafted decision (letters.letter_context). The
# approver's `context` adds details (contact, where and how to collect, a published document's URL, the competent
# organ) but never replaces these: the letter must say what was drafted and is signed off — a different decision
# goes back to the handler (return_reply), else the letter would say 予以公开 while the record and the annual
# report say 不予公开 (found by tests/security/test_mass_assignment.py).
LETTER_FACTS = frozenset({
    "kind", "title", "organ_name", "tracking_no", "addressee", "applicant_name", "info_title", "received_on",
    "issued_on", "outcome", "outcome_label", "group", "articles", "reasons", "withheld_parts", "ground_text",
    "already_published", "supplement_due_on", "fee_noticed_on", "fee_amount", "fee_due_on",
    "explanation_requested_on", "no_reasons_given",
})


async def _approve_reply(c: _Ctx) -> None:
    overridden = sorted(LETTER_FACTS & set(c.data.context))
    if overridden:
        raise UnprocessableEntity(
            "The letter's context cannot replace the application's facts or the drafted decision: "
            f"{', '.join(overridden)}. Return the reply to the handler to change the decision.",
            errors=[{"loc": ["body", "context", key], "msg": "set by the application and the drafted reply",
                     "type": "forbidden_key"} for key in overridden])
    c.app.status = "replied"
    c.app.reply_approved_by = c.principal.sub
    c.app.closed_on = c.day
    await clock.switch(c.session, c.app, "closed", c.day, clock.BASIS["closed"])
    await letters.issue_letter(c.session, c.app, "reply", c.principal.sub, {
        "outcome": c.app.outcome, "articles": c.app.reply_articles, "reasons": c.app.reply_reasons,
        "withheld_parts": c.app.withheld_parts, **c.data.context})
    # 条例第四十四条: on every reply, not only grants — the third applicant's reply may come after the first grant.
    await proactive.consider(c.session, c.app, c.settings, c.calendar, c.day)


_HANDLERS = {
    "confirm": _confirm, "assign": _assign, "request_supplement": _request_supplement,
    "receive_supplement": _receive_supplement, "close_unsupplemented": _close_unsupplemented, "consult": _consult,
    "accept_late_supplement": _accept_late_supplement, "record_delivery": _record_delivery,
    "record_opinion": _record_opinion, "extend": _extend, "defer": _defer,
    "request_explanation": _request_explanation, "record_explanation": _record_explanation, "notify_fee": _notify_fee,
    "record_payment": _record_payment, "waive_fee": _waive_fee, "close_unpaid": _close_unpaid,
    "draft_reply": _draft_reply, "return_reply": _return_reply, "approve_reply": _approve_reply,
}
assert set(_HANDLERS) == set(RULES)


async def expire(session: AsyncSession, on: date, settings: Settings) -> int:
    """The daily sweep: consultations past their 15 working days count as no reply (a co-author organ's silence is
    consent, 第三十四条) and the clock resumes; unsupplemented and unpaid applications past their deadline are
    closed as deemed abandoned (视为放弃) — dated the day their period ran out (the last day of the 补正 period or
    payment window), not the day the sweep ran: a sweep that was down over New Year must not move a closure into
    the next report year (legal-rules §1.13). Returns how many applications changed."""
    system = Principal(sub="system", name="系统", roles=frozenset(HANDLING_ROLES))
    calendar = await current_calendar(session)
    changed = 0
    overdue_consultations = (await session.execute(select(ThirdPartyConsultation).where(
        ThirdPartyConsultation.opinion.is_(None), ThirdPartyConsultation.due_on < on))).scalars().all()
    for consultation in overdue_consultations:
        app = await session.get(Application, consultation.application_id)
        if app is None or app.status != "consulting":
            continue
        consultation.opinion = "no_reply"
        deemed = "视为同意公开（第三十四条）" if consultation.party_kind == "co_author_organ" \
            else "由行政机关依照条例决定（第三十二条）"
        consultation.reasons = f"逾期未答复，{deemed}"
        await session.flush()
        status_before = app.status
        await bump_version(session, app, app.version)
        await _resume_if_done(session, app, consultation.due_on)
        await clock.recompute(session, app, calendar, on)
        await add_step(session, app, system, action="consultation_expired", role="system",
                       status_before=status_before, comment=consultation.reasons)
        await emit_application_event(session, app, "application.consultation_expired")
        changed += 1
    for status, column, outcome in (("supplement_requested", Application.supplement_due_on, "other.no_supplement"),
                                    ("awaiting_fee", Application.fee_due_on, "other.fee_unpaid")):
        apps = (await session.execute(select(Application).where(Application.status == status, column < on)
                                      .limit(500))).scalars().all()
        for app in apps:
            await bump_version(session, app, app.version)
            ran_out = app.supplement_due_on if status == "supplement_requested" else app.fee_due_on
            ctx = _Ctx(session, system, app, Action(), settings, calendar, ran_out or on, "system")
            await _close(ctx, outcome, {})
            await add_step(session, app, system, action="deemed_abandoned", role="system", status_before=status,
                           comment="逾期未补正，视为放弃申请" if status == "supplement_requested"
                           else "逾期未缴纳信息处理费，视为放弃申请")
            await emit_application_event(session, app, "application.closed")
            changed += 1
    await session.flush()
    return changed

