"""The confidentiality review (保密审查) and disclosure-attribute (公开属性) workflow, and publication.

drafter proposes → division head (处室负责人) approves or returns → unit head (单位主要负责人) decides the attribute.
Unsure cases are referred (报请主管部门/保密行政管理部门确定) and come back through the secrecy officer with a
decision. 主动公开 records are published on the decision (or at a scheduled time); 依申请公开/不予公开 records get a
re-evaluation date (条例第十八条). Classified (涉密) records are never published; declassifying re-opens review.
Every transition needs If-Match, is done by a role of the record's own organ, and leaves an immutable ReviewStep.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.config import Settings
from catalog_service.domain.columns import set_interpretation_due
from catalog_service.domain.documents import (
    add_review_step,
    lost_anchors,
    next_index_nos,
    redactions_of,
    require_anchored,
    require_own,
    today_shanghai,
)
from catalog_service.domain.events import emit_document_event, is_public
from catalog_service.domain.links import SYSTEM, announce_links, bump, may_change
from catalog_service.domain.validity import set_expiry
from catalog_service.errors import (
    ClassifiedNeverPublished,
    InvalidTransition,
    OutsideOrgan,
    RedactionAnchorLost,
    WrongRole,
)
from catalog_service.models import Document, DocumentLink, Organ
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.db import utcnow
from services.errors import AppError, UnprocessableEntity

__all__ = ["TRANSITIONS", "Actor", "Decision", "allowed_actions", "publish", "publish_due", "refusal", "transition"]

log = logging.getLogger("gongkai.catalog.workflow")
REEVALUATION_PERIOD = timedelta(days=365)  # 动态调整: re-evaluate withheld records at least yearly (configurable)
REVIEW_STATES = {"division_review", "unit_review", "referred"}
# Steps that carry a record towards publication: none with a redaction whose anchor is lost (区分处理, anchors.py).
ADVANCING = frozenset({"submit", "approve", "resolve_referral", "decide"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    from_states: frozenset[str]
    to_state: str | None  # None: decided by the action (decide, classify, declassify)


def _rule(roles: set[str], states: set[str], to: str | None) -> Rule:
    return Rule(frozenset(roles), frozenset(states), to)


TRANSITIONS: dict[str, Rule] = {
    "submit": _rule({"drafter"}, {"draft"}, "division_review"),
    "approve": _rule({"division_head"}, {"division_review"}, "unit_review"),
    "return": _rule({"division_head", "unit_head"}, {"division_review", "unit_review"}, "draft"),
    "refer": _rule({"division_head", "unit_head"}, {"division_review", "unit_review"}, "referred"),
    "resolve_referral": _rule({"secrecy_officer"}, {"referred"}, "unit_review"),
    "decide": _rule({"unit_head"}, {"unit_review"}, None),
    "classify": _rule({"secrecy_officer", "unit_head"},
                      {"draft", "division_review", "unit_review", "referred", "approved", "scheduled", "published"},
                      None),
    "declassify": _rule({"secrecy_officer", "unit_head"},
                        {"draft", "division_review", "unit_review", "referred", "approved", "withdrawn"}, "draft"),
    "withdraw": _rule({"unit_head"}, {"published", "scheduled"}, "withdrawn"),
    "repeal": _rule({"unit_head"}, {"published", "approved"}, None),
    "reevaluate": _rule({"unit_head", "secrecy_officer"}, {"approved"}, "draft"),
}


@dataclass(frozen=True)
class Actor:
    """Who publishes (their name goes into the log of every record the publication changes) and the service's
    settings (the 索引号 template: the number is given at publication)."""

    principal: Principal
    role: str
    settings: Settings


@dataclass
class Decision:
    """What an action carries besides the comment."""

    comment: str | None = None
    attribute: str | None = None
    withholding_grounds: list[str] | None = None
    attribute_reason: str | None = None
    scheduled_publish_at: datetime | None = None
    classification_level: str | None = None
    secrecy_period_years: int | None = None
    declassify_on: date | None = None
    classification_responsible: str | None = None
    repeal_date: date | None = None


def _acting_role(principal: Principal, rule: Rule, action: str) -> str:
    for role in sorted(rule.roles):
        if role in principal.roles:
            return role
    raise WrongRole(f"'{action}' needs one of the roles: {', '.join(sorted(rule.roles))}.")


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(message, errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


async def refusal(session: AsyncSession, principal: Principal, doc: Document, action: str) -> AppError | None:
    """Why `principal` may not take `action` on `doc` now, whatever the request carries; None when they may.

    The workflow's one guard (after the organ check): `transition` raises what this returns before any handler runs,
    and the record's `actions` are the actions this returns None for — so a listed action is never refused for role,
    state or the record's own preconditions (403/409) and an unlisted one always is. What depends on the request
    (a missing reason; `decide` 主动公开 on a classified record, which 依申请公开/不予公开 may still be) is checked
    afterwards."""
    rule = TRANSITIONS[action]
    try:
        _acting_role(principal, rule, action)
    except WrongRole as exc:
        return exc
    if doc.status not in rule.from_states:
        return InvalidTransition(f"'{action}' is not possible while the record is {doc.status}.")
    if action == "declassify" and not doc.classified:
        return InvalidTransition("The record is not classified.")
    if action == "reevaluate" and doc.attribute == "proactive":
        return InvalidTransition("Only 依申请公开/不予公开 records are re-evaluated.")
    if action == "reevaluate" and doc.classified:
        return InvalidTransition("Classified records are re-opened by declassification.")
    if action in ADVANCING:
        try:
            await require_anchored(session, doc)
        except RedactionAnchorLost as exc:
            return exc
    return None


async def allowed_actions(session: AsyncSession, principal: Principal, doc: Document) -> list[str]:
    """The actions `principal` may take on `doc` now (their own organ's record, `refusal` None), in table order."""
    try:
        await require_own(session, principal, doc)
    except OutsideOrgan:
        return []
    return [action for action in TRANSITIONS if await refusal(session, principal, doc, action) is None]


async def transition(session: AsyncSession, principal: Principal, doc: Document, action: str, decision: Decision,
                     if_match: str | None, settings: Settings) -> Document:
    rule = TRANSITIONS[action]
    organ = await require_own(session, principal, doc)
    role = _acting_role(principal, rule, action)
    require_if_match(if_match, doc.version)
    refused = await refusal(session, principal, doc, action)
    if refused is not None:
        raise refused
    status_before, attribute_before = doc.status, doc.attribute
    await bump_version(session, doc, doc.version)
    handler = _HANDLERS.get(action)
    if handler is not None:
        await handler(session, doc, organ, decision, Actor(principal, role, settings))
    else:
        assert rule.to_state is not None
        doc.status = rule.to_state
    await add_review_step(session, doc, principal, action=action, role=role, status_before=status_before,
                          attribute_before=attribute_before, comment=decision.comment)
    was_public = status_before == "published"
    if was_public and not is_public(doc):  # withdrawn or classified (publication announces in publish())
        await announce_links(session, doc, now_public=False)
    if is_public(doc) or was_public:
        kind = {"withdraw": "document.withdrawn", "classify": "document.withdrawn",
                "repeal": "document.repealed"}.get(action, "document.updated")
        emit_document_event(session, doc, organ, "document.published" if (is_public(doc) and not was_public)
                            else kind)
    else:
        emit_document_event(session, doc, organ, f"document.{action}")
    await session.flush()
    return doc




async def _decide(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    attribute = decision.attribute or doc.proposed_attribute
    if attribute is None:
        raise _invalid("attribute", "the unit head's decision needs the disclosure attribute (公开属性)")
    grounds = decision.withholding_grounds if decision.withholding_grounds is not None else doc.withholding_grounds
    reason = decision.attribute_reason or doc.attribute_reason
    if attribute != "proactive" and not (grounds or reason):
        raise _invalid("withholding_grounds", "依申请公开/不予公开 needs its legal ground or a reason")
    doc.attribute, doc.withholding_grounds, doc.attribute_reason = attribute, list(grounds or []), reason
    if attribute == "proactive":
        if doc.classified:
            raise ClassifiedNeverPublished("A classified (涉密) record can never be published.")
        if decision.scheduled_publish_at and decision.scheduled_publish_at > utcnow():
            doc.status, doc.scheduled_publish_at = "scheduled", decision.scheduled_publish_at
        else:
            await publish(session, doc, organ, actor)
    else:
        doc.status = "approved"
        doc.reevaluation_due_on = today_shanghai() + REEVALUATION_PERIOD


async def _resolve_referral(session: AsyncSession, doc: Document, organ: Organ, decision: Decision,
                            actor: Actor) -> None:
    if not decision.comment:
        raise _invalid("comment", "record the competent authority's decision (主管部门/保密行政管理部门意见)")
    if decision.attribute:
        doc.proposed_attribute = decision.attribute
        if decision.withholding_grounds is not None:
            doc.withholding_grounds = list(decision.withholding_grounds)
    doc.status = "unit_review"


async def _classify(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    if not decision.classification_level:
        raise _invalid("classification_level", "a classified record needs its level (密级)")
    if not (decision.secrecy_period_years or decision.declassify_on):
        raise _invalid("secrecy_period_years", "give the secrecy period (保密期限) or the declassification date")
    if not decision.classification_responsible:
        raise _invalid("classification_responsible", "name the person responsible (定密责任人)")
    doc.classified = True
    doc.classification_level = decision.classification_level
    doc.secrecy_period_years = decision.secrecy_period_years
    doc.declassify_on = decision.declassify_on
    doc.classification_responsible = decision.classification_responsible
    doc.attribute = "withheld"
    doc.withholding_grounds = ["state_secret"]
    if doc.status in ("published", "scheduled"):
        # Reclassification after publication: every public channel stops serving it in this transaction.
        doc.status, doc.withdrawn_at = "withdrawn", utcnow()
        doc.withdrawal_reason = "定密 (classified after publication)"
        doc.scheduled_publish_at = None


async def _declassify(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    doc.classified = False
    doc.classification_level = doc.secrecy_period_years = doc.declassify_on = None
    doc.classification_responsible = None
    # 解密 is not 公开: review starts again from the drafter's proposal (legal-rules §5.2).
    doc.attribute, doc.withholding_grounds, doc.proposed_attribute = None, [], None
    doc.status = "draft"


async def _withdraw(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    if not decision.comment:
        raise _invalid("comment", "give the reason for the withdrawal (撤回理由)")
    doc.status, doc.withdrawn_at, doc.withdrawal_reason = "withdrawn", utcnow(), decision.comment
    doc.scheduled_publish_at = None


async def _repeal(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    doc.validity = "repealed"
    doc.repeal_date = decision.repeal_date or today_shanghai()


async def _reevaluate(session: AsyncSession, doc: Document, organ: Organ, decision: Decision, actor: Actor) -> None:
    doc.status, doc.proposed_attribute = "draft", decision.attribute or doc.proposed_attribute


_HANDLERS = {
    "decide": _decide, "resolve_referral": _resolve_referral, "classify": _classify, "declassify": _declassify,
    "withdraw": _withdraw, "repeal": _repeal, "reevaluate": _reevaluate,
}


async def publish(session: AsyncSession, doc: Document, organ: Organ, actor: Actor) -> None:
    """Publish now: the record gets its 索引号 if it has none (the public serial counts public records only, and a
    number once given never changes), what it amends or repeals is applied to those records — each change in the
    changed record's own review log — and public 解读 records naming it show the link again."""
    if doc.classified:
        raise ClassifiedNeverPublished("A classified (涉密) record can never be published.")
    await require_anchored(session, doc)  # the last gate, whichever path publishes (scheduled, bulk, decide)
    doc.status, doc.published_at, doc.scheduled_publish_at = "published", utcnow(), None
    doc.reevaluation_due_on = None
    await set_interpretation_due(session, doc, actor.settings.interpretation_due_working_days)
    set_expiry(doc, actor.settings)
    if doc.index_no is None:
        [doc.index_no] = await next_index_nos(session, organ, today_shanghai().year,
                                              actor.settings.index_no_template, 1)
    links = (await session.execute(select(DocumentLink).where(DocumentLink.from_id == doc.id))).scalars().all()
    for link in links:
        target = await session.get(Document, link.to_id)
        if target is None:
            continue
        if not await may_change(session, organ, target):
            # Only a link drafted before the rule (domain/links.py) can get here: never applied to another organ's
            # record behind its back.
            log.warning("publication of %s: link %s to another organ's record %s not applied", doc.id, link.kind,
                        target.id)
            continue
        status_before, attribute_before = target.status, target.attribute
        target.validity = "repealed" if link.kind == "repeals" else "amended"
        if link.kind == "repeals":
            target.repeal_date = doc.effective_date or today_shanghai()
        await bump(session, target)
        target_organ = await session.get(Organ, target.organ_id)
        assert target_organ is not None
        verb = "废止" if link.kind == "repeals" else "修订"
        when = f"，废止日期 {target.repeal_date.isoformat()}" if link.kind == "repeals" and target.repeal_date else ""
        await add_review_step(
            session, target, actor.principal, action="repealed_by" if link.kind == "repeals" else "amended_by",
            role=actor.role, status_before=status_before, attribute_before=attribute_before,
            comment=f"被{organ.name}《{doc.public_title}》（索引号 {doc.index_no}，{doc.id}）{verb}{when}")
        emit_document_event(session, target, target_organ,
                            "document.repealed" if link.kind == "repeals" else "document.updated")
    await announce_links(session, doc, now_public=True)


async def publish_due(session: AsyncSession, settings: Settings) -> int:
    """Publish scheduled records whose time has come (run periodically by the service); each publication is a step
    of the record's review log, by the system."""
    due = (await session.execute(select(Document).where(
        Document.status == "scheduled", Document.scheduled_publish_at <= utcnow(), Document.classified.is_(False)
    ).limit(200))).scalars().all()
    actor = Actor(SYSTEM, "system", settings)
    published = 0
    for doc in due:
        if lost_anchors(doc, await redactions_of(session, doc.id)):
            # Cannot happen through the API (decide checks); a row from before anchoring could. Held back, not
            # raised: one such record must not stop every other scheduled publication.
            log.error("scheduled record %s not published: a redaction's anchor is lost", doc.id)
            continue
        organ = await session.get(Organ, doc.organ_id)
        assert organ is not None
        await session.execute(update(Document).where(Document.id == doc.id).values(version=doc.version + 1)
                              .execution_options(synchronize_session=False))
        doc.version += 1
        status_before, attribute_before = doc.status, doc.attribute
        await publish(session, doc, organ, actor)
        await add_review_step(session, doc, SYSTEM, action="publish", role="system", status_before=status_before,
                              attribute_before=attribute_before, comment="定时发布 (scheduled publication)")
        emit_document_event(session, doc, organ, "document.published")
        published += 1
    return published
