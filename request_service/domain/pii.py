"""Applicants' personal data (个人信息): masked by default, unmasked only for the staff who need it, every unmask
audited (PIPL art. 34, 51; reliability.md §5).

Interface used by other modules (keep it stable):

    applicant_fields(app, principal, unmask=False, reason=None) -> dict
        The applicant fields of `app` as a dict matching schemas.ApplicantRead: type, type_label, name, id_type,
        id_number, phone, email, address, postal_code, masked. Masked unless `unmask` is true.
        unmask=True needs one of HANDLING_ROLES (intake_clerk, handler, reply_approver) in the application's organ
        (else PiiUnmaskForbidden, 403) and a reason of ≥ 2 characters (else UnmaskReasonRequired, 422); it adds a
        PiiAccess row (who, roles, reason, which fields) to the application's session, so the audit row commits
        with the request that read the data — or not at all. Synchronous: it only adds to the session.

    mask_id_number("11010519491231002X") -> "110***********002X"   (first 3 + last 4: hides region and birthday)
    mask_phone("13812345678") -> "138****5678"
    mask_email("zhang.san@example.com") -> "z***@example.com"
    mask_address("北京市东城区某某街道1号") -> "北京市东城区****" (keeps the first 6 characters)
"""

from typing import Any

from sqlalchemy.ext.asyncio import async_object_session

from request_service.domain.applications import HANDLING_ROLES
from request_service.errors import PiiUnmaskForbidden, UnmaskReasonRequired
from request_service.models import Application, PiiAccess, audit
from request_service.vocab import ApplicantType
from services.audit import record_audit
from services.auth import Principal
from services.db import utcnow

__all__ = ["UNMASK_ROLES", "applicant_fields", "mask_address", "mask_email", "mask_id_number", "mask_phone"]

UNMASK_ROLES = HANDLING_ROLES
SENSITIVE_FIELDS = ("id_number", "phone", "email", "address")


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:  # too short to show both ends without showing (nearly) everything
        return "*" * max(len(value) - 1, 1) + value[-1:] if len(value) > 1 else "*"
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def mask_id_number(value: str | None) -> str | None:
    return None if not value else _keep_ends(value, 3, 4)


def mask_phone(value: str | None) -> str | None:
    return None if not value else _keep_ends(value, 3, 4)


def mask_email(value: str | None) -> str | None:
    if not value:
        return None
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_address(value: str | None) -> str | None:
    if not value:
        return None
    return value[:6] + "****" if len(value) > 6 else "****"


def _audit(app: Application, principal: Principal, reason: str, fields: list[str]) -> None:
    session = async_object_session(app)
    if session is None:  # a programming error: the audit row has nowhere to go, so the data is not shown
        raise RuntimeError("applicant_fields(unmask=True) needs an application attached to a session")
    session.add(PiiAccess(application_id=app.id, actor_sub=principal.sub, roles=",".join(sorted(principal.roles)),
                          reason=reason[:200], fields=",".join(fields), at=utcnow()))
    # And into the hash-chained audit log (services/audit.py), in the same transaction as the read.
    record_audit(session, audit, actor=principal.sub, action="pii.unmask",
                 details={"application_id": app.id, "reason": reason[:200], "fields": fields,
                          "roles": sorted(principal.roles), "organ": principal.organ})


def applicant_fields(app: Application, principal: Principal, unmask: bool = False,
                     reason: str | None = None) -> dict[str, Any]:
    applicant_type = ApplicantType(app.applicant_type)
    data: dict[str, Any] = {
        "type": applicant_type.value,
        "type_label": {"code": applicant_type.value, "zh": applicant_type.zh, "en": applicant_type.en},
        "name": app.applicant_name, "id_type": app.id_type, "postal_code": app.postal_code,
    }
    if unmask:
        if principal.organ != app.organ_code or not principal.has_any(UNMASK_ROLES):
            raise PiiUnmaskForbidden("Unmasking personal data needs the intake clerk, handler or reply approver "
                                     "role of the application's organ.")
        reason = (reason or "").strip()
        if len(reason) < 2:
            raise UnmaskReasonRequired("Give the reason for reading the unmasked personal data (it is audited).",
                                       errors=[{"loc": ["query", "reason"], "msg": "a reason is required",
                                                "type": "missing"}])
        shown = [f for f in SENSITIVE_FIELDS if getattr(app, f)]
        _audit(app, principal, reason, shown)
        data.update({f: getattr(app, f) for f in SENSITIVE_FIELDS}, masked=False)
        return data
    data.update(id_number=mask_id_number(app.id_number), phone=mask_phone(app.phone),
                email=mask_email(app.email), address=mask_address(app.address), masked=True)
    return data
