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
only as a salted PBKDF2 hash; the applicant follows the application with both (domain/tracking.py).
"""

import hashlib
import hmac
import logging
import secrets
from base64 import b64decode, b64encode
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.clients import CatalogAway
from request_service.domain.applications import SHANGHAI, add_step, today
from request_service.domain.events import emit_application_event
from request_service.domain.handling import accept
from request_service.domain.organs import get_known_organ
from request_service.domain.repeats import find_repeat
from request_service.errors import ApplicantRoleRequired, WrongRole
from request_service.models import Application, KnownOrgan, new_id
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


async def _new_tracking_no(session: AsyncSession, year: int) -> str:
    for _ in range(8):  # 32^8 ≈ 10^12 numbers a year: a collision is rare, a second one rarer still
        candidate = f"GK{year}-" + "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))
        if (await session.execute(select(Application.id).where(Application.tracking_no == candidate))).first() is None:
            return candidate
    raise RuntimeError("could not draw an unused tracking number")


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
    organ: KnownOrgan


async def _create(session: AsyncSession, data: ApplicationFields, *, organ: KnownOrgan, channel: Channel,
                  principal: Principal, applicant_sub: str | None, suggestions: list[dict[str, Any]],
                  action: str, role: str) -> Intake:
    a = data.applicant
    key = applicant_key(a)
    query_code = new_query_code()
    now = utcnow()
    # Nothing is flushed until the commit: the application, its steps, its clock and its events go to the database
    # together (one INSERT per table). So the id is drawn here, not at flush, and so are the column defaults that
    # the receipt and the events read (fee_waived, extension_days).
    app = Application(
        id=new_id(), tracking_no=await _new_tracking_no(session, now.astimezone(SHANGHAI).year),
        query_code_hash=hash_query_code(query_code), organ_code=organ.code, channel=channel.value,
        submitted_at=now, status="received", applicant_type=a.type.value, applicant_name=a.name,
        applicant_sub=applicant_sub, applicant_key=key, id_type=a.id_type.value if a.id_type else None,
        id_number=a.id_number, phone=a.phone, email=str(a.email) if a.email else None, address=a.address,
        postal_code=a.postal_code, info_title=data.info_title, info_doc_number=data.info_doc_number,
        info_description=data.info_description, preferred_form=data.preferred_form.value,
        delivery=data.delivery.value, suggestions=suggestions,
        repeat_of=await find_repeat(session, key, organ.code, data.info_title, data.info_description),
        fee_waived=False, extension_days=0, version=1, created_at=now, updated_at=now,
    )
    session.add(app)
    await add_step(session, app, principal, action=action, role=role, status_before=None,
                   comment=f"{channel.zh}（{channel.en}）")
    await emit_application_event(session, app, "application.received")
    return Intake(app, query_code, organ)


async def submit_online(session: AsyncSession, principal: Principal, data: ApplicationSubmit,
                        suggestions: list[dict[str, Any]]) -> Intake:
    """在线申请: anyone may apply (条例第二十七条); a signed-in applicant's account is linked for /mine. The clock
    waits for 双方确认 by the intake clerk."""
    if not principal.is_anonymous and "applicant" not in principal.roles:
        raise ApplicantRoleRequired("The online form is for applicants; staff register applications at "
                                    "/applications/register.")
    organ = await get_known_organ(session, data.organ_code)
    return await _create(session, data, organ=organ, channel=Channel.ONLINE, principal=principal,
                         applicant_sub=None if principal.is_anonymous else principal.sub,
                         suggestions=suggestions, action="submit", role="applicant")


async def register(session: AsyncSession, principal: Principal, data: ApplicationRegister,
                   suggestions: list[dict[str, Any]]) -> Intake:
    """受理登记 by the organ's intake clerk; in person and signed-for post start the clock at once."""
    if "intake_clerk" not in principal.roles or not principal.organ:
        raise WrongRole("Registering applications needs the intake clerk (受理) role of an organ.")
    organ = await get_known_organ(session, principal.organ)
    intake = await _create(session, data, organ=organ, channel=data.channel, principal=principal,
                           applicant_sub=None, suggestions=suggestions, action="register", role="intake_clerk")
    receipt = {Channel.IN_PERSON: data.submitted_on or today(), Channel.MAIL_SIGNED: data.signed_for_on}.get(
        data.channel)
    if receipt is not None:
        # A second event for the same new application: its version moves on, so a consumer that keeps the
        # newest version per application (stats) applies `accepted` after `received` and never the reverse.
        intake.app.version += 1
        await accept(session, intake.app, receipt, principal, role="intake_clerk",
                     comment=f"条例第三十一条：{data.channel.zh}，收到申请之日 {receipt.isoformat()}")
    return intake


def receipt_fields(intake: Intake) -> dict[str, Any]:
    """The fields of schemas.ApplicationReceipt."""
    app = intake.app
    status = ApplicationStatus(app.status)
    return {"id": app.id, "tracking_no": app.tracking_no, "query_code": intake.query_code, "status": status,
            "status_label": term(status),
            "channel": app.channel, "organ_code": app.organ_code, "organ_name": intake.organ.name,
            "info_title": app.info_title, "submitted_at": app.submitted_at, "receipt_date": app.receipt_date,
            "due_on": app.due_on, "suggestions": app.suggestions or []}

