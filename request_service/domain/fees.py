"""信息处理费 · the information processing fee (国办函〔2020〕109号, legal-rules §2).

Two methods, chosen per application, never both (第三条); both are 超额累进 (progressive above a free allowance):
- 按件计收 per application (第四条): the n-th application of the same applicant in one calendar month (自然月)
  costs 0 for n ≤ 10, 100元 for 11–30, then 200元 for 31–40, 300元 for 41–50, … (+100元 per band of 10);
- 按量计收 per volume (第五条), per application: pages 1–30 free, 31–100 10元/页, 101–200 20元/页, from 201 40元/页.

🔧 Interpretations (legal-rules §2, configurable by changing the constants or `same_organ`):
- band (三) of 第四条 is read as 31–40 → 200元, 41–50 → 300元 …;
- "同一申请人" is counted per organ: an organ counts the applications made *to it* (an organ cannot charge for
  applications another organ received). `fee_for(..., same_organ=False)` counts across all organs instead.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.errors import FeePagesRequired, ReceiptDateMissing, UnknownFeeMethod
from request_service.models import Application
from request_service.vocab import FeeMethod

__all__ = ["BASIS", "FeeBand", "STANDARD", "application_rank", "fee_for", "per_application_bands", "quote",
           "FeePreview", "fee_preview", "per_application_fee", "per_application_total", "per_volume_bands",
           "per_volume_fee"]

BASIS = "《政府信息公开信息处理费管理办法》（国办函〔2020〕109号）"
STANDARD = {
    FeeMethod.PER_APPLICATION.value: (
        "按件计收：同一申请人一个自然月内累计申请10件以下（含10件）的，不收费；11—30件（含30件）的部分，"
        "100元/件；31件以上的部分，以10件为一档，每增加一档，收费标准提高100元/件。"),
    FeeMethod.PER_VOLUME.value: (
        "按量计收：同一政府信息公开申请中，30页以下（含30页）的，不收费；31—100页（含100页）的部分，10元/页；"
        "101—200页（含200页）的部分，20元/页；201页以上的部分，40元/页。"),
}

FREE_APPLICATIONS = 10
SECOND_BAND_END = 30
SECOND_BAND_RATE = Decimal(100)
BAND_SIZE = 10
BAND_STEP = Decimal(100)
# (first page, last page or None, rate per page)
VOLUME_BANDS: tuple[tuple[int, int | None, Decimal], ...] = (
    (1, 30, Decimal(0)), (31, 100, Decimal(10)), (101, 200, Decimal(20)), (201, None, Decimal(40)))
CENT = Decimal("0.01")


@dataclass(frozen=True)
class FeeBand:
    """One band of a progressive fee: units first..last at `rate` each (first..last inclusive)."""

    first: int
    last: int
    rate: Decimal

    @property
    def units(self) -> int:
        return self.last - self.first + 1

    @property
    def amount(self) -> Decimal:
        return (self.rate * self.units).quantize(CENT)


def per_application_fee(nth: int) -> Decimal:
    """The fee of the n-th application (1-based) of the same applicant in one calendar month."""
    if nth < 1:
        raise ValueError("nth counts from 1")
    if nth <= FREE_APPLICATIONS:
        return Decimal(0).quantize(CENT)
    if nth <= SECOND_BAND_END:
        return SECOND_BAND_RATE.quantize(CENT)
    band = (nth - SECOND_BAND_END - 1) // BAND_SIZE + 1  # 31–40 → 1, 41–50 → 2, …
    return (SECOND_BAND_RATE + BAND_STEP * band).quantize(CENT)


def per_application_bands(count: int) -> list[FeeBand]:
    """The bands of `count` applications in one month, in order (free band included)."""
    if count < 0:
        raise ValueError("count must not be negative")
    bands: list[FeeBand] = []
    first = 1
    while first <= count:
        rate = per_application_fee(first)
        if first <= FREE_APPLICATIONS:
            last = FREE_APPLICATIONS
        elif first <= SECOND_BAND_END:
            last = SECOND_BAND_END
        else:
            last = first + BAND_SIZE - 1
        bands.append(FeeBand(first, min(last, count), rate))
        first = last + 1
    return bands


def per_application_total(count: int) -> Decimal:
    """The total fee of `count` applications of one applicant in one calendar month."""
    return sum((b.amount for b in per_application_bands(count)), Decimal(0)).quantize(CENT)


def per_volume_bands(pages: int) -> list[FeeBand]:
    if pages < 0:
        raise ValueError("pages must not be negative")
    return [FeeBand(first, min(last, pages) if last is not None else pages, rate)
            for first, last, rate in VOLUME_BANDS if pages >= first]


def per_volume_fee(pages: int) -> Decimal:
    """The fee of one application of `pages` pages (progressive: each band's pages at that band's rate)."""
    return sum((b.amount for b in per_volume_bands(pages)), Decimal(0)).quantize(CENT)


def _month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


async def application_rank(session: AsyncSession, app: Application, *, same_organ: bool = True) -> int:
    """n: this application's position among the applicant's applications (same applicant_key) received in the
    calendar month of its receipt date, ordered by receipt date, then submission time, then id."""
    if app.receipt_date is None:
        raise ReceiptDateMissing(
            f"Application {app.id} has no receipt date yet; the per-application fee counts by the month of receipt.")
    first, following = _month(app.receipt_date)
    conditions = [Application.applicant_key == app.applicant_key, Application.receipt_date >= first,
                  Application.receipt_date < following]
    if same_organ:
        conditions.append(Application.organ_code == app.organ_code)
    earlier = or_(
        Application.receipt_date < app.receipt_date,
        and_(Application.receipt_date == app.receipt_date, Application.submitted_at < app.submitted_at),
        and_(Application.receipt_date == app.receipt_date, Application.submitted_at == app.submitted_at,
             Application.id < app.id),
    )
    earlier_count = (await session.execute(select(func.count()).select_from(Application)
                                           .where(*conditions, earlier))).scalar_one()
    return int(earlier_count) + 1


async def fee_for(session: AsyncSession, app: Application, method: str, pages: int | None,
                  *, same_organ: bool = True) -> Decimal:
    """The fee of `app` under `method` (FeeMethod value). per_volume needs `pages` (422 otherwise)."""
    if method == FeeMethod.PER_VOLUME.value:
        if pages is None or pages < 0:
            raise FeePagesRequired("The per-volume fee (按量计收) needs the number of pages (0 or more).",
                                   errors=[{"loc": ["body", "pages"], "msg": "required for per_volume",
                                            "type": "missing"}])
        return per_volume_fee(pages)
    if method == FeeMethod.PER_APPLICATION.value:
        return per_application_fee(await application_rank(session, app, same_organ=same_organ))
    raise UnknownFeeMethod(f"Unknown fee method {method!r}: use per_application or per_volume.")


def quote(method: str, quantity: int) -> tuple[Decimal, list[FeeBand]]:
    """The fee calculator: per_application → `quantity` applications in one month (the total of all of them);
    per_volume → one application of `quantity` pages. Returns the amount and its bands."""
    if method == FeeMethod.PER_APPLICATION.value:
        bands = per_application_bands(quantity)
    elif method == FeeMethod.PER_VOLUME.value:
        bands = per_volume_bands(quantity)
    else:
        raise UnknownFeeMethod(f"Unknown fee method {method!r}: use per_application or per_volume.")
    return sum((b.amount for b in bands), Decimal(0)).quantize(CENT), bands


@dataclass(frozen=True)
class FeePreview:
    method: str
    amount: Decimal
    pages: int | None  # per_volume
    nth: int | None  # per_application: this application's position in the applicant's month
    standard: str


async def fee_preview(session: AsyncSession, app: Application, method: str, pages: int | None,
                      *, same_organ: bool = True) -> FeePreview:
    """What fee_for would charge, with the facts behind it (for the handler before issuing a fee notice)."""
    amount = await fee_for(session, app, method, pages, same_organ=same_organ)
    nth = (await application_rank(session, app, same_organ=same_organ)
           if method == FeeMethod.PER_APPLICATION.value else None)
    return FeePreview(method, amount, pages if method == FeeMethod.PER_VOLUME.value else None, nth, STANDARD[method])
