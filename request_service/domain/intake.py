"""Intake (受理登记): applications arrive online from the public form, or are registered by the organ's intake clerk
for the other channels. The receipt date (收到申请之日) follows 条例第三十一条 per channel (legal-rules §1.4):

  in_person      当面提交          the day it is handed in          → accepted at once, the clock starts
  mail_signed    邮寄需签收        the day the organ signs for it   → accepted at once, the clock starts
  mail_ordinary  平常信函          the day the office confirms it with the applicant   ┐ status `received`: the
  online         互联网渠道        the day both sides confirm (双方确认)                  │ confirm action (handling)
  email          电子邮件 (≈互联网) the day both sides confirm                           │ sets the receipt date
  fax            传真              the day both sides confirm                           │ and starts the clock
  other          其他              confirmed like the above                             ┘

Each application gets a tracking number (申请编号, GK<year>-<8 base32>) and a random 查询码 shown once and kept
only as a salted, keyed hash (HMAC); the applicant follows the application with both (domain/tracking.py).

Intake is the hot path (issue 4: ≥ 300 applications/s on one worker), and on it round trips and SQLAlchemy's
per-statement work cost more CPU than the rules themselves. So a registration reads once (_look_up: organ, repeat
candidates and the calendar's signature together) and writes once (_write: on PostgreSQL the application, its clock
segment and its handling steps in one statement; the events follow at the commit, services/outbox.py).
"""

import functools
import hashlib
import hmac
import logging
import secrets
from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Insert, Select, TextClause, bindparam, insert, select, text, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from request_service.clients import CatalogAway
from request_service.domain.applications import SHANGHAI, add_step, staged, today
from request_service.domain.calendar import current_calendar, signature_query
from request_service.domain.events import emit_application_event
from request_service.domain.handling import accept
from request_service.domain.organs import get_known_organ
from request_service.domain.proactive import info_key
from request_service.domain.repeats import best_repeat, repeat_candidates
from request_service.errors import ApplicantRoleRequired, WrongRole
from request_service.models import Application, ClockSegment, HandlingStep, KnownOrgan, new_id
from request_service.schemas import ApplicantIn, ApplicationFields, ApplicationRegister, ApplicationSubmit, term
from request_service.vocab import ApplicationStatus, Channel
from services.auth import Principal
from services.db import utcnow

__all__ = ["IMMEDIATE_CHANNELS", "Intake", "applicant_key", "catalogue_query", "fetch_suggestions", "hash_query_code",
           "new_query_code", "receipt_fields", "register", "search_catalogue", "submit_online",
           "verify_query_code"]

log = logging.getLogger("gongkai.request.intake")

# Channels whose receipt date is known when the application is registered (条例第三十一条).
IMMEDIATE_CHANNELS = frozenset({Channel.IN_PERSON, Channel.MAIL_SIGNED})
QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: codes are read out and typed by hand
QUERY_CODE_LENGTH = 10  # 31^10 ≈ 2^49.5; with 5 failures per 15 minutes per number, guessing is hopeless
TRACKING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
# The code is random (≈ 2^49.5) and look-ups are brute-force limited, so a deliberately slow hash buys nothing and
# costs ~60 ms of CPU per submission on the event loop. A keyed HMAC with a secret kept outside the database
# (REQUEST_QUERY_CODE_KEY) means a stolen table alone does not let anyone test a single code.


# --- 查询码 -----------------------------------------------------------------------------------------------------------


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(QUERY_CODE_LENGTH))


@lru_cache(maxsize=1)
def _query_code_key() -> bytes:
    from request_service.config import Settings

    return Settings().query_code_key.get_secret_value().encode()


def _digest(code: str, salt: bytes) -> bytes:
    return hmac.new(_query_code_key(), salt + code.upper().encode(), hashlib.sha256).digest()


def hash_query_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    return f"hmac_sha256${b64encode(salt).decode()}${b64encode(_digest(code, salt)).decode()}"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_query_code(new_query_code())


def verify_query_code(code: str, stored: str | None) -> bool:
    """Constant-time check. With `stored` None (no such tracking number) a dummy hash is checked all the same,
    so an unknown number takes as long as a wrong code (no timing oracle)."""
    try:
        scheme, salt, digest = (stored or _dummy_hash()).split("$")
        candidate = _digest(code, b64decode(salt))
        return hmac.compare_digest(candidate, b64decode(digest)) and stored is not None and scheme == "hmac_sha256"
    except ValueError:
        return False


# --- identity -------------------------------------------------------------------------------------------------------


def applicant_key(applicant: ApplicantIn) -> str:
    """The same person or organisation gives the same key, however the form was typed: the identity document
    when given, else name and phone (or e-mail). Used for repeats and the per-month count (109号)."""
    if applicant.id_type is not None and applicant.id_number:
        identity = f"id|{applicant.id_type.value}|{applicant.id_number.upper()}"
    else:
        name = "".join(applicant.name.split()).lower()
        contact = applicant.phone or (applicant.email or "").lower() or (applicant.address or "")
        identity = f"contact|{applicant.type.value}|{name}|{contact}"
    return hashlib.sha256(identity.encode()).hexdigest()


def _new_tracking_no(year: int) -> str:
    # 32^8 ≈ 10^12 numbers a year: a collision is rare, and the unique constraint catches it (_write).
    return f"GK{year}-" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))


# --- catalogue suggestions ------------------------------------------------------------------------------------------


# The catalogue's search wants every term as a substring (AND), so a request's wording around the name of the
# document ("申请公开……的信息") would make it miss: such framing is trimmed off both ends.
_FRAMING_PREFIXES = ("申请公开", "请求公开", "要求公开", "请公开", "申请", "关于")
_FRAMING_SUFFIXES = ("的相关信息", "相关信息", "的信息", "信息", "全文", "的文件", "文件")


def catalogue_query(title: str) -> str:
    query = " ".join(title.split())
    for _ in range(2):  # "申请公开关于…的信息": two layers at most
        for prefix in _FRAMING_PREFIXES:
            if query.startswith(prefix) and len(query) > len(prefix) + 1:
                query = query[len(prefix):]
        for suffix in _FRAMING_SUFFIXES:
            if query.endswith(suffix) and len(query) > len(suffix) + 1:
                query = query[:-len(suffix)]
    return query.strip("《》“”\"' ")


async def search_catalogue(catalog: Any, title: str, doc_number: str | None) -> list[dict[str, Any]]:
    """Published records matching the 文号 (exact and best) and the title, at most 5. Raises the client's
    UpstreamTimeout / UpstreamUnavailable."""
    found: dict[str, dict[str, Any]] = {}
    queries = [q for q in (doc_number, catalogue_query(title)) if q]
    for query in queries:
        for doc in await catalog.search_documents(query, limit=5):
            found.setdefault(doc.id, doc.model_dump())
    return list(found.values())[:5]


async def fetch_suggestions(catalog: Any, title: str, doc_number: str | None = None) -> list[dict[str, Any]]:
    """search_catalogue for intake: the catalogue is a nice-to-have there, so any failure is logged and gives no
    suggestions, never a failed submission."""
    if catalog is None:
        return []
    try:
        return await search_catalogue(catalog, title, doc_number)
    except CatalogAway:  # known to be down (the breaker logged it once): not a warning per submission
        return []
    except Exception as exc:  # timeouts, refused connections, 5xx, odd payloads: all the same to intake
        log.warning("catalogue suggestions unavailable: %s", type(exc).__name__)
        return []


# --- creating the application ---------------------------------------------------------------------------------------


@dataclass
class Intake:
    app: Application
    query_code: str
    organ_name: str
    calendar_signature: tuple  # calendar.signature_query() as read in this transaction


@dataclass(frozen=True)
class _Looked:
    organ_code: str
    organ_name: str
    repeat_of: str | None
    calendar_signature: tuple


@lru_cache(maxsize=1)
def _look_up_statement() -> Select[Any]:
    """Built once: constructing a statement costs more CPU than the database spends answering it."""
    code, key = bindparam("organ_code"), bindparam("applicant_key")
    signature = signature_query().subquery("calendar_signature")
    candidates = repeat_candidates(key, code).subquery("candidate")
    return (select(signature.c.years, signature.c.versions, signature.c.loaded_at, KnownOrgan.code, KnownOrgan.name,
                   candidates.c.id, candidates.c.info_title, candidates.c.info_description)
            .select_from(signature.outerjoin(KnownOrgan, KnownOrgan.code == code).outerjoin(candidates, true()))
            .order_by(candidates.c.closed_on.desc(), candidates.c.id))


async def _look_up(session: AsyncSession, organ_code: str, key: str, title: str, description: str) -> _Looked:
    """Everything intake reads, in one round trip: the organ (机关名录), the applicant's answered applications to it
    (repeat detection, domain/repeats.py) and the calendar's signature (whether the cached calendar is current,
    domain/calendar.py). The signature is one row whatever the tables hold, so the outer joins give at least one."""
    code = organ_code.upper()
    # On the session's connection: the statement is plain Core, and the ORM's execution path costs CPU for nothing.
    connection = await session.connection()
    rows = (await connection.execute(_look_up_statement(), {"organ_code": code, "applicant_key": key})).all()
    first = rows[0]
    if first.code is None:
        organ = await get_known_organ(session, code)  # raises UnknownOrgan (422), the one answer for it
        found_code, found_name = organ.code, organ.name
    else:
        found_code, found_name = first.code, first.name
    repeat_of = best_repeat(((r.id, r.info_title, r.info_description) for r in rows if r.id is not None),
                            title, description)
    return _Looked(found_code, found_name, repeat_of, (first.years, first.versions, first.loaded_at))


@lru_cache(maxsize=4)
def _defaults(model: type) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(column, default) for every column of `model`'s table: the column's Python default, else None."""
    def constant(value: Any) -> Callable[[], Any]:
        return lambda: value

    return tuple((column.key, functools.partial(column.default.arg, None) if column.default is not None
                  and column.default.is_callable else constant(getattr(column.default, "arg", None)))
                 for column in model.__table__.columns)


def _row_of(obj: Any) -> dict[str, Any]:
    """Every column of a new row: the values set on the object, else the column default."""
    given = obj.__dict__
    return {key: given[key] if key in given else default() for key, default in _defaults(type(obj))}


def _as_loaded(session: AsyncSession, obj: Any, values: dict[str, Any]) -> None:
    """Attach an object whose row was just written by a Core INSERT as loaded and unchanged: the rest of the request
    reads it like any other, and the unit of work has nothing left to write for it."""
    given, missing = obj.__dict__, object()
    for key, value in values.items():
        if given.get(key, missing) is not value:  # a default, or a tracking number drawn again
            set_committed_value(obj, key, value)
    make_transient_to_detached(obj)  # every attribute counts as loaded from the row, none as changed
    session.add(obj)


@lru_cache(maxsize=1)
def _sqlite_application_insert() -> Insert:
    table = Application.__table__
    return sqlite_insert(table).on_conflict_do_nothing(index_elements=[table.c.tracking_no]).returning(table.c.id)


_STAGED_MODELS = (ClockSegment, HandlingStep)  # the rows a new application brings along, in insert order
_SQLITE_ROW_INSERTS = {model: insert(model.__table__) for model in _STAGED_MODELS}


@lru_cache(maxsize=1)
def _postgresql_insert_all() -> TextClause:
    """PostgreSQL: the application and all its rows in one statement. Its segments and steps join the inserted
    application's RETURNING, so a taken tracking number (ON CONFLICT DO NOTHING) inserts nothing at all; they
    arrive as one array per column (unnest), which keeps the statement the same for any number of rows."""
    quote = postgresql.dialect().identifier_preparer.quote
    app_columns = list(Application.__table__.columns)
    parts = [f"""new_application AS (
        INSERT INTO application ({", ".join(quote(c.name) for c in app_columns)})
        VALUES ({", ".join(f":{c.key}" for c in app_columns)})
        ON CONFLICT (tracking_no) DO NOTHING RETURNING id)"""]
    params = [bindparam(c.key, type_=c.type) for c in app_columns]
    for model in _STAGED_MODELS:
        table = model.__table__
        names = ", ".join(quote(c.name) for c in table.columns)
        arrays = ", ".join(f":{table.name}__{c.key}" for c in table.columns)
        parts.append(f"""new_{table.name} AS (
        INSERT INTO {table.name} ({names})
        SELECT staged.* FROM unnest({arrays}) AS staged ({names}) JOIN new_application ON true)""")
        params += [bindparam(f"{table.name}__{c.key}", type_=ARRAY(c.type)) for c in table.columns]
    return text(f"WITH {', '.join(parts)} SELECT id FROM new_application").bindparams(*params)


async def _write(session: AsyncSession, app: Application) -> None:
    """Write the new application with its clock segments and handling steps, then attach it to the session as
    loaded and unchanged (nothing writes it twice); its steps and segments, which nothing reads again in this
    request, just leave the session.

    The tracking number is not looked up first: INSERT … ON CONFLICT (tracking_no) DO NOTHING leaves a taken
    number to the unique constraint, without aborting the transaction, and another one is drawn. Core INSERTs
    instead of the unit of work: flushing the three new objects cost more CPU than everything else intake does;
    and on PostgreSQL one statement for all of it (each round trip costs the service CPU too)."""
    connection = await session.connection()
    values = _row_of(app)
    staged_rows = {model: staged(session, model, app) for model in _STAGED_MODELS}
    rows = {model: [_row_of(obj) for obj in objects] for model, objects in staged_rows.items()}
    postgres = connection.dialect.name == "postgresql"
    arrays = {f"{model.__table__.name}__{c.key}": [row[c.key] for row in rows[model]]
              for model in _STAGED_MODELS for c in model.__table__.columns} if postgres else {}
    for _ in range(8):
        if postgres:
            inserted = (await connection.execute(_postgresql_insert_all(), {**values, **arrays})).first()
        else:
            inserted = (await connection.execute(_sqlite_application_insert(), values)).first()
        if inserted is not None:
            break
        values["tracking_no"] = _new_tracking_no(values["submitted_at"].astimezone(SHANGHAI).year)
    else:
        raise RuntimeError("could not draw an unused tracking number")
    if not postgres:
        for model, model_rows in rows.items():
            if model_rows:
                await connection.execute(_SQLITE_ROW_INSERTS[model], model_rows)
    _as_loaded(session, app, values)
    for objects in staged_rows.values():
        for obj in objects:
            session.expunge(obj)


async def _create(session: AsyncSession, data: ApplicationFields, *, organ_code: str, channel: Channel,
                  principal: Principal, applicant_sub: str | None, suggestions: list[dict[str, Any]],
                  action: str, role: str) -> Intake:
    a = data.applicant
    key = applicant_key(a)
    looked = await _look_up(session, organ_code, key, data.info_title, data.info_description)
    query_code = new_query_code()
    now = utcnow()
    # Nothing is written until the application is complete (_write): it is not even added to the session yet, so
    # its id is drawn here, and so are the column defaults that the receipt and the events read (fee_waived,
    # extension_days).
    app = Application(
        id=new_id(), tracking_no=_new_tracking_no(now.astimezone(SHANGHAI).year),
        query_code_hash=hash_query_code(query_code), organ_code=looked.organ_code, channel=channel.value,
        submitted_at=now, status="received", applicant_type=a.type.value, applicant_name=a.name,
        applicant_sub=applicant_sub, applicant_key=key, id_type=a.id_type.value if a.id_type else None,
        id_number=a.id_number, phone=a.phone, email=str(a.email) if a.email else None, address=a.address,
        postal_code=a.postal_code, info_title=data.info_title, info_doc_number=data.info_doc_number,
        info_description=data.info_description, info_key=info_key(data.info_title, data.info_doc_number),
        preferred_form=data.preferred_form.value,
        delivery=data.delivery.value, suggestions=suggestions, repeat_of=looked.repeat_of,
        fee_waived=False, extension_days=0, version=1, created_at=now, updated_at=now,
    )
    await add_step(session, app, principal, action=action, role=role, status_before=None,
                   comment=f"{channel.zh}（{channel.en}）")
    await emit_application_event(session, app, "application.received")
    return Intake(app, query_code, looked.organ_name, looked.calendar_signature)


async def submit_online(session: AsyncSession, principal: Principal, data: ApplicationSubmit,
                        suggestions: list[dict[str, Any]]) -> Intake:
    """在线申请: anyone may apply (条例第二十七条); a signed-in applicant's account is linked for /mine. The clock
    waits for 双方确认 by the intake clerk."""
    if not principal.is_anonymous and "applicant" not in principal.roles:
        raise ApplicantRoleRequired("The online form is for applicants; staff register applications at "
                                    "/applications/register.")
    intake = await _create(session, data, organ_code=data.organ_code, channel=Channel.ONLINE, principal=principal,
                           applicant_sub=None if principal.is_anonymous else principal.sub,
                           suggestions=suggestions, action="submit", role="applicant")
    await _write(session, intake.app)
    return intake


async def register(session: AsyncSession, principal: Principal, data: ApplicationRegister,
                   suggestions: list[dict[str, Any]]) -> Intake:
    """受理登记 by the organ's intake clerk; in person and signed-for post start the clock at once."""
    if "intake_clerk" not in principal.roles or not principal.organ:
        raise WrongRole("Registering applications needs the intake clerk (受理) role of an organ.")
    intake = await _create(session, data, organ_code=principal.organ, channel=data.channel, principal=principal,
                           applicant_sub=None, suggestions=suggestions, action="register", role="intake_clerk")
    receipt = {Channel.IN_PERSON: data.submitted_on or today(), Channel.MAIL_SIGNED: data.signed_for_on}.get(
        data.channel)
    if receipt is not None:
        # A second event for the same new application: its version moves on, so a consumer that keeps the
        # newest version per application (stats) applies `accepted` after `received` and never the reverse.
        intake.app.version += 1
        await accept(session, intake.app, receipt, principal, role="intake_clerk",
                     comment=f"条例第三十一条：{data.channel.zh}，收到申请之日 {receipt.isoformat()}",
                     calendar=await current_calendar(session, intake.calendar_signature))
    await _write(session, intake.app)
    return intake


def receipt_fields(intake: Intake) -> dict[str, Any]:
    """The fields of schemas.ApplicationReceipt."""
    app = intake.app
    status = ApplicationStatus(app.status)
    return {"id": app.id, "tracking_no": app.tracking_no, "query_code": intake.query_code, "status": status,
            "status_label": term(status),
            "channel": app.channel, "organ_code": app.organ_code, "organ_name": intake.organ_name,
            "info_title": app.info_title, "submitted_at": app.submitted_at, "receipt_date": app.receipt_date,
            "due_on": app.due_on, "suggestions": app.suggestions or []}

