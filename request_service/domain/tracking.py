"""The applicant's side (申请人自助查询): following an application with its tracking number and 查询码, and a
signed-in applicant's own list. An applicant sees only their own applications, and only what is meant for them.

Brute force (reliability.md API2/API6): failures are counted per tracking number in LookupAttempt; after
`max_failures` within `window_seconds` the number is locked for a window (429 `lookup_locked` + Retry-After),
even for the right code. A wrong number and a wrong code are the same failure — same 404 problem, same work (a
dummy hash for unknown numbers), same failure count — so a caller cannot tell which part was wrong.

A failed look-up commits its counter but leaves no entry in the audit log: anyone can send them, and the log is for
changes and privileged reads (services/audit.py). The API counts them as a metric (request_service/metrics.py).
"""

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.intake import verify_query_code
from request_service.domain.pii import applicant_fields
from request_service.errors import ApplicantRoleRequired, ApplicationNotFound, LetterNotFound, LookupLocked
from request_service.models import Application, KnownOrgan, Letter, LookupAttempt
from request_service.schemas import ApplicantApplicationRead, term
from request_service.vocab import ApplicationStatus, LetterKind, Outcome
from services.audit import leave_out_request_entry
from services.auth import Principal
from services.db import utcnow
from services.errors import Unauthorized
from services.pagination import keyset_page

__all__ = ["LOOKUP_FAILED", "applicant_letter", "applicant_letters", "applicant_view", "list_mine", "own_application",
           "track"]

# The one answer to every failed look-up.
LOOKUP_FAILED = "No application matches this tracking number and query code."
# Letters addressed to the applicant (a consultation letter goes to the third party, not to them).
APPLICANT_LETTERS = frozenset({LetterKind.REPLY, LetterKind.SUPPLEMENT_NOTICE, LetterKind.EXTENSION_NOTICE,
                               LetterKind.FEE_NOTICE, LetterKind.RECEIPT})
DECIDED = frozenset({"replied", "closed"})


def lookup_failed() -> ApplicationNotFound:
    return ApplicationNotFound(LOOKUP_FAILED)


async def _attempt(session: AsyncSession, tracking_no: str) -> LookupAttempt | None:
    return await session.get(LookupAttempt, tracking_no, with_for_update=session.bind.dialect.name == "postgresql",
                             populate_existing=True)


async def _record_failure(session: AsyncSession, tracking_no: str, attempt: LookupAttempt | None, *,
                          max_failures: int, window_seconds: int) -> None:
    now = utcnow()
    if attempt is None:
        try:
            async with session.begin_nested():
                session.add(LookupAttempt(tracking_no=tracking_no, failures=0, window_started_at=now))
        except IntegrityError:  # a concurrent failure created the row first: count on it
            pass
        attempt = await _attempt(session, tracking_no)
        assert attempt is not None
    if attempt.window_started_at + timedelta(seconds=window_seconds) <= now:
        attempt.failures, attempt.window_started_at, attempt.locked_until = 0, now, None
    attempt.failures += 1
    if attempt.failures >= max_failures:
        attempt.locked_until = now + timedelta(seconds=window_seconds)
    await session.flush()


async def track(session: AsyncSession, tracking_no: str, query_code: str, *, max_failures: int,
                window_seconds: int) -> Application | None:
    """The application if number and code match; None after recording a failure (the caller answers 404 and lets
    the failure commit). Raises LookupLocked while the number is locked."""
    attempt = await _attempt(session, tracking_no)
    now = utcnow()
    if attempt is not None and attempt.locked_until is not None and attempt.locked_until > now:
        retry_after = max(1, math.ceil((attempt.locked_until - now).total_seconds()))
        raise LookupLocked("Too many failed look-ups for this tracking number; try again later.",
                           headers={"Retry-After": str(retry_after)})
    app = (await session.execute(select(Application).where(Application.tracking_no == tracking_no)
                                 )).scalar_one_or_none()
    if verify_query_code(query_code, app.query_code_hash if app is not None else None) and app is not None:
        if attempt is not None:
            await session.delete(attempt)
            await session.flush()
        return app
    await _record_failure(session, tracking_no, attempt, max_failures=max_failures, window_seconds=window_seconds)
    leave_out_request_entry(session)
    return None


async def applicant_letters(session: AsyncSession, app: Application) -> list[Letter]:
    """The letters addressed to the applicant (APPLICANT_LETTERS), oldest first. A drafted reply is not a decision
    until it is signed off: before that the reply letter is not theirs to see. The one rule for the tracking view,
    the applicant's letter list and every download."""
    letters = (await session.execute(select(Letter).where(Letter.application_id == app.id)
                                     .order_by(Letter.issued_on, Letter.created_at))).scalars().all()
    decided = app.status in DECIDED
    return [letter for letter in letters
            if letter.kind in LetterKind._value2member_map_ and LetterKind(letter.kind) in APPLICANT_LETTERS
            and (decided or letter.kind != LetterKind.REPLY)]


async def applicant_letter(session: AsyncSession, app: Application, letter_id: str) -> Letter:
    """One of the applicant's letters; any other id — a letter to a third party, another application's, an
    unsigned reply, no letter at all — is the same 404."""
    for letter in await applicant_letters(session, app):
        if letter.id == letter_id:
            return letter
    raise LetterNotFound(f"Letter {letter_id} does not exist.")


async def own_application(session: AsyncSession, principal: Principal, application_id: str) -> Application:
    """A signed-in applicant's own application; another's is a 404 exactly as for an id that does not exist (no
    existence oracle, reliability.md API1)."""
    _require_applicant(principal)
    app = (await session.execute(select(Application).where(Application.id == application_id,
                                                           Application.applicant_sub == principal.sub))
           ).scalar_one_or_none()
    if app is None:
        raise ApplicationNotFound(f"Application {application_id} does not exist.")
    return app


def letter_summary(letter: Letter) -> dict[str, object]:
    kind = LetterKind(letter.kind)
    return {"id": letter.id, "kind": kind, "kind_label": term(kind), "title": kind.zh, "number": letter.number,
            "issued_on": letter.issued_on, "sha256": letter.sha256}


async def applicant_view(session: AsyncSession, app: Application, principal: Principal) -> ApplicantApplicationRead:
    """The applicant's view: progress and the letters sent to them. A drafted reply is not a decision until it is
    signed off, so before that neither the outcome nor the reply letter shows, and `reply_drafted` reads as
    `accepted`."""
    status = ApplicationStatus(app.status)
    decided = app.status in DECIDED
    if status == ApplicationStatus.REPLY_DRAFTED:
        status = ApplicationStatus.ACCEPTED
    organ_name = (await session.execute(select(KnownOrgan.name).where(KnownOrgan.code == app.organ_code))
                  ).scalar_one_or_none()
    shown = [letter_summary(letter) for letter in await applicant_letters(session, app)]
    outcome = Outcome(app.outcome) if decided and app.outcome in Outcome._value2member_map_ else None
    return ApplicantApplicationRead.model_validate({
        "id": app.id, "tracking_no": app.tracking_no, "status": status, "status_label": term(status),
        "channel": app.channel, "organ_code": app.organ_code, "organ_name": organ_name or app.organ_code,
        "info_title": app.info_title, "submitted_at": app.submitted_at, "receipt_date": app.receipt_date,
        "due_on": app.due_on, "due_provisional": bool(app.due_provisional),
        "outcome": outcome, "outcome_label": term(outcome), "closed_on": app.closed_on, "letters": shown,
        # Masked even for the applicant: the page may be on a shared screen, and they know their own data.
        "applicant": applicant_fields(app, principal, unmask=False),
    })


def _require_applicant(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthorized("Sign in as an applicant to list your applications.", code="authentication_required")
    if "applicant" not in principal.roles:
        raise ApplicantRoleRequired("Only a signed-in applicant has a list of their own applications.")


async def list_mine(session: AsyncSession, principal: Principal, cursor: str | None,
                    limit: int) -> tuple[list[ApplicantApplicationRead], str | None]:
    _require_applicant(principal)
    stmt = select(Application).where(Application.applicant_sub == principal.sub)
    rows, next_cursor = await keyset_page(
        session, stmt, [(Application.submitted_at, True), (Application.id, True)], cursor, limit,
        key=lambda a: [a.submitted_at.isoformat(), a.id])
    return [await applicant_view(session, a, principal) for a in rows], next_cursor
