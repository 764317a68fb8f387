"""Repeat and volume detection: 重复申请 (条例第三十六条第六项) and 第三十五条 (number or frequency clearly beyond a
reasonable range), and the monthly count behind 按件计收 fees (国办函〔2020〕109号 第四条: per applicant and
calendar month).

An applicant is identified by `applicant_key` (domain/intake.py): a hash of the identity document, or of name and
phone when no document was given. That stored key never leaves the service (it is an unkeyed digest, testable
against guesses of the data it was made from); the monthly counts show it keyed (`shown_key`).

A month counts the applications *received* in it (第三十一条 receipt date); applications still awaiting
confirmation count by their submission date (Asia/Shanghai), so a burst of online submissions is visible before
anyone confirms them.
"""

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import SHANGHAI
from request_service.models import Application
from services.pagination import decode_cursor, encode_cursor, invalid_cursor

__all__ = ["REPEAT_THRESHOLD", "applications_in_month", "best_repeat", "find_repeat", "month_bounds", "monthly_counts",
           "repeat_candidates", "shown_key", "similarity"]

REPEAT_THRESHOLD = 0.6  # character-bigram Jaccard; 0.6 catches reworded titles of the same request
MAX_CANDIDATES = 200


def _normalise(text: str) -> str:
    # NFKC folds full-width forms (ＡＢＣ１２３, （）) into their ASCII twins; punctuation and spaces carry no meaning.
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


def _bigrams(text: str) -> set[str]:
    text = _normalise(text)
    if len(text) < 2:
        return {text} if text else set()
    return {text[i:i + 2] for i in range(len(text) - 1)}


def similarity(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def repeat_candidates(applicant_key: str, organ_code: str) -> Select[tuple[str, str, str, date | None]]:
    """This applicant's answered applications to the organ, newest answer first: what `best_repeat` compares.
    Intake runs it as part of its one read (domain/intake.py), so it is a statement, not a query of its own."""
    return (select(Application.id, Application.info_title, Application.info_description, Application.closed_on)
            .where(Application.applicant_key == applicant_key, Application.organ_code == organ_code,
                   Application.status == "replied")
            .order_by(Application.closed_on.desc(), Application.id).limit(MAX_CANDIDATES))


def best_repeat(candidates: Iterable[tuple[str, str, str | None]], title: str, description: str) -> str | None:
    """The id of the candidate (id, title, description) that asks for (nearly) the same information, if any."""
    text = f"{title} {description}"
    best, best_score = None, REPEAT_THRESHOLD
    for app_id, other_title, other_description in candidates:
        score = similarity(text, f"{other_title} {other_description or ''}")
        if score >= best_score:
            best, best_score = app_id, score
    return best


async def find_repeat(session: AsyncSession, applicant_key: str, organ_code: str, title: str,
                      description: str) -> str | None:
    """The id of this applicant's already answered application to the same organ that asks for (nearly) the
    same information, if any. A flag for the handler, never a decision: 重复申请 needs a person's judgement."""
    rows = (await session.execute(repeat_candidates(applicant_key, organ_code))).all()
    return best_repeat(((r.id, r.info_title, r.info_description) for r in rows), title, description)


def month_bounds(month_date: date) -> tuple[date, date, datetime, datetime]:
    """First day, first day of the next month, and the same two midnights (Asia/Shanghai) as UTC instants."""
    first = month_date.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (first, following, datetime.combine(first, time(), SHANGHAI).astimezone(UTC),
            datetime.combine(following, time(), SHANGHAI).astimezone(UTC))


def _in_month(month_date: date) -> ColumnElement[bool]:
    first, following, start, end = month_bounds(month_date)
    return or_(and_(Application.receipt_date >= first, Application.receipt_date < following),
               and_(Application.receipt_date.is_(None), Application.submitted_at >= start,
                    Application.submitted_at < end))


async def applications_in_month(session: AsyncSession, applicant_key: str, month_date: date, *,
                                organ_code: str | None = None) -> int:
    """How many applications `applicant_key` made in the calendar month of `month_date` (109号 第四条: ≤ 10 free).
    Pass `organ_code` to count only those to one organ — the organ that charges the fee counts what it received."""
    stmt = select(func.count()).select_from(Application).where(Application.applicant_key == applicant_key,
                                                              _in_month(month_date))
    if organ_code is not None:
        stmt = stmt.where(Application.organ_code == organ_code)
    return int((await session.execute(stmt)).scalar_one())


def shown_key(secret: bytes, organ_code: str, applicant_key: str) -> str:
    """The applicant key as it leaves the service: HMAC-SHA256 under REQUEST_APPLICANT_KEY_SECRET of the organ and
    the stored key. The stored key is an unkeyed digest of the identity, and a handler sees the masked phone or ID
    number beside it: shown as it is, the rest of the number is a 10,000-guess search away. Keyed, no guess can be
    checked without the secret. Per organ, so two organs' lists cannot be joined to follow a person across them."""
    message = b"gongkai-applicant-key-v1\0" + organ_code.encode() + b"\0" + applicant_key.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


async def monthly_counts(session: AsyncSession, organ_code: str, month_date: date, *, secret: bytes, min_count: int,
                         cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Applicants of the organ in the month with their counts, most active first.

    Grouped in the database on the stored key, so a rotated `secret` changes the keys shown and nothing else. The
    keyset is (count ↓, the group's first application id ↑): an application id says nothing about the person and
    belongs to one group only, so the cursor carries no key and stays valid across a rotation."""
    count = func.count(Application.id)
    first_id = func.min(Application.id)
    stmt = (select(Application.applicant_key, count.label("count"), func.min(Application.applicant_name),
                   func.min(Application.applicant_type), first_id)
            .where(Application.organ_code == organ_code, _in_month(month_date))
            .group_by(Application.applicant_key).having(count >= min_count))
    if cursor:
        last_count, last_id = decode_cursor(cursor, 2)
        if not isinstance(last_count, int) or not isinstance(last_id, str):
            raise invalid_cursor()
        stmt = stmt.having(or_(count < last_count, and_(count == last_count, first_id > last_id)))
    rows = (await session.execute(stmt.order_by(count.desc(), first_id).limit(limit + 1))).all()
    items = [{"applicant_key": shown_key(secret, organ_code, key), "count": int(n), "applicant_name": name,
              "applicant_type": kind} for key, n, name, kind, _ in rows[:limit]]
    next_cursor = encode_cursor([int(rows[limit - 1][1]), rows[limit - 1][4]]) if len(rows) > limit else None
    return items, next_cursor
