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
from request_service.domain import clock, fees, letters
from request_service.domain.applications import HANDLING_ROLES, SHANGHAI, add_step, is_handling_staff, today
from request_service.domain.calendar import Calendar, current_calendar
from request_service.domain.events import emit_application_event
from request_service.errors import (
    ClosureNoticeMissing,
    ClosurePeriodRunning,
    DeferredDueDateInvalid,
    ExtensionAlreadyGranted,
    ExtensionTooLong,
    InvalidTransition,
    ReplyPeriodExpired,
    WrongRole,
)
from request_service.models import Application, HandlingStep, ThirdPartyConsultation
from request_service.vocab import BREACH_ARTICLES, Breach
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.db import utcnow
from services.errors import UnprocessableEntity

__all__ = ["RULES", "Action", "WrongRole", "accept", "expire", "is_staff", "open_consultations", "transition"]

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
    "consult": _r({"handler"}, {"accepted", "consulting"}),
    "record_opinion": _r({"handler"}, {"consulting"}),
    "extend": _r({"reply_approver"}, {"accepted", "consulting", "awaiting_fee", "reply_drafted"}),
    "defer": _r({"reply_approver"}, {"accepted", "consulting", "reply_drafted"}),
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
    context: dict[str, Any] = field(default_factory=dict)


def _invalid(field_name: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(message, errors=[{"loc": ["body", field_name], "msg": message, "type": "value_error"}])


def _role(principal: Principal, rule: Rule, action: str) -> str:
    for role in sorted(rule.roles):
        if role in principal.roles:
            return role
    raise WrongRole(f"'{action}' needs one of the roles: {', '.join(sorted(rule.roles))}.")


async def transition(session: AsyncSession, principal: Principal, app: Application, action: str, data: Action,
                     if_match: str | None, settings: Settings) -> Application:
    rule = RULES[action]
    role = _role(principal, rule, action)
    require_if_match(if_match, app.version)
    if app.status not in rule.from_states:
        raise InvalidTransition(f"'{action}' is not possible while the application is {app.status}.")
    status_before = app.status
    await bump_version(session, app, app.version)
    calendar = await current_calendar(session)
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
    earlier = (await c.session.execute(select(HandlingStep.id).where(
        HandlingStep.application_id == c.app.id, HandlingStep.action == "request_supplement"))).first()
    if earlier:
        raise InvalidTransition("A supplement was already requested once (一次性告知); it cannot be requested again.")
    days = c.data.days or c.settings.supplement_days
    c.app.supplement_due_on = c.calendar.add_working_days(c.day, days)[0]
    c.app.status = "supplement_requested"
    await clock.switch(c.session, c.app, "stopped", c.day, clock.BASIS["supplement"])
    # 第三十条: the notice is due within 7 working days of receipt. A late one is still better for the applicant than
    # none, so it is allowed — but recorded as a breach and published with the application (legal-rules §1.13).
    late = c.app.supplement_notice_due_on is not None and c.day > c.app.supplement_notice_due_on
    if late:
        _record_breach(c.app, Breach.LATE_SUPPLEMENT_NOTICE, c.day, c.app.supplement_notice_due_on)
    await letters.issue_letter(c.session, c.app, "supplement_notice", c.principal.sub,
                               {"items": c.data.items, "supplement_due_on": c.app.supplement_due_on})


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


def _check_closure(app: Application, outcome: str, day: date) -> None:
    """Refuse a 三（六）1 / 三（六）2 / 三（四）3 outcome the application's record does not support."""
    if outcome == NO_SUPPLEMENT:
        article = "条例第三十条: 视为放弃申请须在补正告知书所定补正期限届满而申请人无正当理由逾期不补正之后"
        if app.supplement_due_on is None:
            raise ClosureNoticeMissing(f"{article}; no 补正 notice was sent on this application.")
        if app.supplement_received_on is not None and app.supplement_received_on <= app.supplement_due_on:
            raise ClosureNoticeMissing(f"{article}; the supplement was received on {app.supplement_received_on}, "
                                       f"within the period ending {app.supplement_due_on}.")
        if day <= app.supplement_due_on:
            raise ClosurePeriodRunning(f"{article}; the applicant has until {app.supplement_due_on} to supplement.")
    elif outcome == FEE_UNPAID:
        article = "国办函〔2020〕109号: 逾期未缴纳信息处理费视为放弃申请，须在收费通知所定缴费期限届满之后"
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


async def _refuse_if_expired(c: _Ctx, article: str) -> None:
    """Decisions the 条例 ties to the running period are taken before it ends — on the service's own today
    (Asia/Shanghai), never a date the caller gives: a backdated decision is what this guards against."""
    ended = await clock.expired_on(c.session, c.app, c.calendar, today())
    if ended is not None:
        raise ReplyPeriodExpired(f"{article}; the reply period ended on {ended.isoformat()}.")


async def _extend(c: _Ctx) -> None:
    """延期 (第三十三条第二款): before the period ends, once, at most 20 working days, with the consent of the office
    head (the approver, recorded with the day of the decision) and a notice to the applicant."""
    if c.app.extension_days:
        raise ExtensionAlreadyGranted(
            f"条例第三十三条第二款: 延长答复期限只能一次; it was extended on {c.app.extension_decided_on} "
            f"by {c.app.extension_days} working days.")
    if not c.data.days or not 1 <= c.data.days <= clock.REPLY_DAYS:
        raise ExtensionTooLong("条例第三十三条第二款: 延长的期限最长不得超过20个工作日.",
                               errors=[{"loc": ["body", "days"], "msg": "1 to 20 working days",
                                        "type": "value_error"}])
    if not c.data.comment:
        raise _invalid("comment", "give the reason for the extension")
    await _refuse_if_expired(c, "条例第三十三条第二款: 延长答复期限须在答复期限届满前决定")
    c.app.extension_days = c.data.days
    c.app.extension_approved_by = c.principal.sub
    c.app.extension_decided_on = today()
    c.app.extension_reason = c.data.comment
    state = await clock.recompute(c.session, c.app, c.calendar, today())
    await letters.issue_letter(c.session, c.app, "extension_notice", c.principal.sub, {
        "extension_days": c.data.days, "new_due_on": state.due_on, "approver": c.principal.name or c.principal.sub,
        "reasons": c.data.comment})


async def _defer(c: _Ctx) -> None:
    """第三十五条: for an unreasonable volume with reasonable grounds, a reasonable deferred deadline."""
    if not c.data.due_on or not c.data.comment:
        raise _invalid("due_on", "a deferred deadline and its reason are required")
    await _refuse_if_expired(c, "条例第三十五条: 延迟答复须在答复期限届满前决定")
    proposed, now = c.data.due_on, today()
    # The current due date; while the clock is paused, the earliest it can be (the days left, counted from today).
    state = clock.compute(await clock.segments_of(c.session, c.app.id), c.calendar, clock.allowed_days(c.app), now)
    current = clock.period_end(c.app, state) or c.calendar.add_working_days(now, state.left)[0]
    article = "条例第三十五条: 延迟答复的合理期限"
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


async def _notify_fee(c: _Ctx) -> None:
    if c.data.fee_method not in ("per_application", "per_volume"):
        raise _invalid("fee_method", "per_application or per_volume (one method per application)")
    amount = await fees.fee_for(c.session, c.app, c.data.fee_method, c.data.pages)
    if amount <= 0:
        raise _invalid("fee_method", "no fee is due under 国办函〔2020〕109号 for this application")
    c.app.fee_method, c.app.fee_pages, c.app.fee_amount = c.data.fee_method, c.data.pages, amount
    c.app.fee_noticed_on = c.day
    c.app.fee_due_on = c.calendar.add_working_days(c.day, c.settings.fee_payment_days)[0]
    c.app.status = "awaiting_fee"
    if c.settings.fee_pauses_clock:
        await clock.switch(c.session, c.app, "paused", c.day, clock.BASIS["fee"])
    await letters.issue_letter(c.session, c.app, "fee_notice", c.principal.sub, {
        "fee_amount": amount, "fee_method": c.data.fee_method, "fee_due_on": c.app.fee_due_on,
        "pages": c.data.pages})


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
    c.app.outcome = outcome
    c.app.reply_articles = list(c.data.articles)
    c.app.reply_reasons = c.data.comment
    c.app.withheld_parts = list(c.data.withheld_parts)
    c.app.published_document_id = c.data.published_document_id
    c.app.reply_drafted_by = c.principal.sub
    c.app.status = "reply_drafted"


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
})


async def _approve_reply(c: _Ctx) -> None:
    if c.app.reply_drafted_by == c.principal.sub:
        raise WrongRole("The person who drafted the reply cannot also sign it off (separation of duties).")
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


_HANDLERS = {
    "confirm": _confirm, "assign": _assign, "request_supplement": _request_supplement,
    "receive_supplement": _receive_supplement, "close_unsupplemented": _close_unsupplemented, "consult": _consult,
    "record_opinion": _record_opinion, "extend": _extend, "defer": _defer, "notify_fee": _notify_fee,
    "record_payment": _record_payment, "waive_fee": _waive_fee, "close_unpaid": _close_unpaid,
    "draft_reply": _draft_reply, "return_reply": _return_reply, "approve_reply": _approve_reply,
}
assert set(_HANDLERS) == set(RULES)


async def expire(session: AsyncSession, on: date, settings: Settings) -> int:
    """The daily sweep: consultations past their 15 working days count as no reply (a co-author organ's silence is
    consent, 第三十四条) and the clock resumes; unsupplemented and unpaid applications past their deadline are
    closed as deemed abandoned (视为放弃). Returns how many applications changed."""
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
            ctx = _Ctx(session, system, app, Action(), settings, calendar, on, "system")
            await _close(ctx, outcome, {})
            await add_step(session, app, system, action="deemed_abandoned", role="system", status_before=status,
                           comment="逾期未补正，视为放弃申请" if status == "supplement_requested"
                           else "逾期未缴纳信息处理费，视为放弃申请")
            await emit_application_event(session, app, "application.closed")
            changed += 1
    await session.flush()
    return changed

