"""The statutory clock of an application, kept as a ledger of segments (legal-rules §1.4–1.7, §2, §6).

Each segment covers the days d with start_on < d ≤ end_on (open-ended while end_on is null):
- running: working days count toward the reply period (20 working days, 条例第三十三条, plus any extension);
- paused: third-party / co-author consultation (第三十三条第三款) or, if configured, the fee notice (109号);
  days are not counted, and counting resumes with the first working day after the pause ends;
- stopped: waiting for the applicant's supplement (补正, 第三十条); the next running segment is a *restart*:
  the period counts again from zero from the day the supplement is received.
Everything else — due date, days used, days left, the day-by-day explanation — is derived from the ledger and the
calendar, so loading an official calendar year only needs a recompute.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import is_unsaved, staged
from request_service.domain.calendar import Calendar, DayInfo
from request_service.models import Application, ClockSegment

__all__ = ["BASIS", "ClockDay", "ClockState", "REPLY_DAYS", "SUPPLEMENT_NOTICE_DAYS", "compute", "expired_on",
           "open_segment", "period_end", "recompute", "segments_of", "start", "switch"]

REPLY_DAYS = 20  # 条例第三十三条第二款
SUPPLEMENT_NOTICE_DAYS = 7  # 条例第三十条: 补正告知 within 7 working days of receipt
MAX_EXPLAINED_DAYS = 400  # entries of the day-by-day explanation (the answer's size); the count itself goes on

BASIS = {
    "receipt": "条例第三十一条：收到申请之日起计算，第一日为其后第一个工作日（民法典第二百零一条）",
    "third_party": "条例第三十三条第三款：征求第三方意见所需时间不计算在答复期限内",
    "co_author": "条例第三十三条第三款、第三十四条：征求其他机关意见所需时间不计算在答复期限内",
    "consultation_over": "征求意见结束，答复期限自次日起继续计算",
    "supplement": "条例第三十条：补正期间，答复期限自收到补正的申请之日起重新计算",
    "supplement_received": "条例第三十条：收到补正的申请，答复期限重新计算",
    "fee": "国办函〔2020〕109号：收费通知至缴费完成期间不计入答复期限（可配置）",
    "fee_settled": "信息处理费已缴纳或减免，答复期限继续计算",
    "closed": "办理终结",
}


@dataclass
class ClockDay:
    day: date
    counted: int | None  # the working-day number, or None
    note: str  # why: 工作日 / 周末 / 节假日：春节 / 调休上班：春节 / 暂停：… / 补正中：…


@dataclass
class ClockState:
    due_on: date | None
    provisional: bool
    allowed: int
    used: int  # working days counted up to `as_of`
    left: int
    running: bool
    state: str  # running | paused | stopped | closed
    days: list[ClockDay] = field(default_factory=list)
    # The day the count reached `allowed` since the last restart, whatever the clock does now: a period that ran
    # out before a later pause (征求意见 begun after expiry) has still run out (legal-rules §1.13).
    reached_on: date | None = None


async def segments_of(session: AsyncSession, application_id: str) -> list[ClockSegment]:
    return list((await session.execute(select(ClockSegment).where(ClockSegment.application_id == application_id)
                                       .order_by(ClockSegment.seq))).scalars())


def open_segment(segments: list[ClockSegment]) -> ClockSegment | None:
    return segments[-1] if segments and segments[-1].end_on is None else None


async def start(session: AsyncSession, app: Application, receipt_date: date) -> None:
    session.add(ClockSegment(application_id=app.id, seq=1, state="running", restart=True, start_on=receipt_date,
                             basis=BASIS["receipt"]))
    if not is_unsaved(app):  # recompute reads a stored application's ledger back from the database (no autoflush)
        await session.flush()


async def switch(session: AsyncSession, app: Application, state: str, on: date, basis: str, *,
                 restart: bool = False, note: str | None = None) -> None:
    """Close the open segment on `on` and open a new one in `state` (closed: just close)."""
    segments = await segments_of(session, app.id)
    current = open_segment(segments)
    if current is not None:
        if on < current.start_on:
            raise ValueError(f"{on} is before the current clock segment began ({current.start_on})")
        current.end_on = on
    if state != "closed":
        session.add(ClockSegment(application_id=app.id, seq=len(segments) + 1, state=state, restart=restart,
                                 start_on=on, basis=basis, note=note))
    await session.flush()


def _note(info: DayInfo) -> str:
    """Why a day counts or not, for the day-by-day explanation (built only when one is asked for)."""
    return {"workday": "工作日", "weekend": "周末",
            "holiday": f"节假日：{info.name}", "makeup_workday": f"调休上班：{info.name}"}[info.reason]


def compute(segments: list[ClockSegment], calendar: Calendar, allowed: int, as_of: date,
            explain: bool = False) -> ClockState:
    """Walk the ledger day by day: the due date is the day the running count reaches `allowed`."""
    days: list[ClockDay] = []
    count = used = 0
    due: date | None = None
    provisional = False
    last_state = "closed"
    for seg in segments:
        if seg.state == "running" and seg.restart:
            count = used = 0
            due = None
            if explain and days and len(days) < MAX_EXPLAINED_DAYS:
                days.append(ClockDay(seg.start_on, None, "重新计算：" + seg.basis))
        last_state = seg.state if seg.end_on is None else "closed"
        day = seg.start_on
        while True:
            day += timedelta(days=1)
            if seg.end_on is not None and day > seg.end_on:
                break
            if seg.end_on is None and (seg.state != "running" or due is not None) and day > as_of:
                break
            # Past the cap the explanation stops, not the walk: the due date and the days used still count.
            explaining = explain and len(days) < MAX_EXPLAINED_DAYS
            info = calendar.info(day)
            if seg.state == "running":
                provisional = provisional or (info.provisional and due is None)
                if info.working and due is None:
                    count += 1
                    if day <= as_of:
                        used = count
                    if count == allowed:
                        due = day
                    if explaining:
                        days.append(ClockDay(day, count, _note(info)))
                elif explaining and due is None:
                    days.append(ClockDay(day, None, _note(info)))
            elif explaining:
                label = "暂停" if seg.state == "paused" else "补正中"
                days.append(ClockDay(day, None, f"{label}（{_note(info)}）：{seg.basis}"))
    running = last_state == "running"
    return ClockState(due_on=due if running or last_state == "closed" else None, provisional=provisional,
                      allowed=allowed, used=min(used, allowed), left=max(allowed - used, 0), running=running,
                      state=last_state, days=days, reached_on=due)


def allowed_days(app: Application) -> int:
    return REPLY_DAYS + (app.extension_days or 0)


def period_end(app: Application, state: ClockState) -> date | None:
    """The last day of the period that runs now: a 第三十五条 deferred deadline, else the day the reply period (with
    any extension) is reached. None while it cannot have run out (paused or stopped before it was reached)."""
    return app.deferred_due_on or state.reached_on


async def expired_on(session: AsyncSession, app: Application, calendar: Calendar, today: date) -> date | None:
    """The last day of the running period if it ended before `today` (the period ends at 24:00 of its last day,
    legal-rules §6.3), else None. Decisions that must come before expiry (延期 第三十三条第二款, 延迟答复 第三十五条)
    ask this."""
    state = compute(await segments_of(session, app.id), calendar, allowed_days(app), today)
    end = period_end(app, state)
    return end if end is not None and end < today else None


async def recompute(session: AsyncSession, app: Application, calendar: Calendar, today: date) -> ClockState:
    """Refresh the stored due date (work-lists read it) from the ledger and the calendar."""
    if is_unsaved(app):  # a new application's ledger is all in the session
        segments = sorted(staged(session, ClockSegment, app), key=lambda seg: seg.seq)
    else:
        segments = await segments_of(session, app.id)
    state = compute(segments, calendar, allowed_days(app), today)
    if app.deferred_due_on is not None:  # 条例第三十五条: a reasonable deferred deadline set by the organ
        app.due_on, app.due_provisional = app.deferred_due_on, False
    else:
        app.due_on, app.due_provisional = state.due_on, state.provisional
    if app.receipt_date is not None:
        app.supplement_notice_due_on = calendar.add_working_days(app.receipt_date, SUPPLEMENT_NOTICE_DAYS)[0]
    return state
