"""Who may see which catalogue records — the one place the rule lives (reliability.md: one `visible_to`).

Public (anonymous, applicants, any non-catalogue role): published, not classified. That is all.
Catalogue staff (drafter, division head, unit head, secrecy officer) see every record of their own organ in any
state; classified records only with the secrecy officer or unit head role (知悉范围).
Every query of documents that serves a caller starts from `visible_documents(principal)`.
"""

from sqlalchemy import Select, and_, false, select, true
from sqlalchemy.sql.elements import ColumnElement

from catalog_service.models import Document, Organ
from services.auth import Principal

__all__ = ["CATALOG_STAFF_ROLES", "CLASSIFIED_READERS", "is_catalog_staff", "public_condition",
           "staff_condition", "visible_condition", "visible_documents"]

CATALOG_STAFF_ROLES = frozenset({"drafter", "division_head", "unit_head", "secrecy_officer"})
CLASSIFIED_READERS = frozenset({"secrecy_officer", "unit_head"})


def is_catalog_staff(principal: Principal) -> bool:
    return principal.organ is not None and principal.has_any(CATALOG_STAFF_ROLES)


def public_condition() -> ColumnElement[bool]:
    return and_(Document.status == "published", Document.classified.is_(False))


def staff_condition(principal: Principal) -> ColumnElement[bool]:
    own_organ = Document.organ_id.in_(select(Organ.id).where(Organ.code == principal.organ))
    may_see_classified = true() if principal.has_any(CLASSIFIED_READERS) else Document.classified.is_(False)
    return and_(own_organ, may_see_classified)


def visible_condition(principal: Principal, *, staff_view: bool = True) -> ColumnElement[bool]:
    """Public records, plus (for catalogue staff, unless staff_view=False) their organ's records."""
    if staff_view and is_catalog_staff(principal):
        return public_condition() | staff_condition(principal)
    return public_condition()


def visible_documents(principal: Principal, *, staff_view: bool = True) -> Select[tuple[Document]]:
    return select(Document).where(visible_condition(principal, staff_view=staff_view))


def never() -> ColumnElement[bool]:
    return false()
