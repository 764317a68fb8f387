"""A realistic reporting year (2025) for the end-to-end replay through the request service's real API
(test_year_replay.py), with the annual report it must produce computed here, independently of the report code.

The scenario is declarative: each application is a Case with its organ, channel, applicant type and dated steps
(intake, 双方确认, 补正, 征求意见, 延期, 收费, 答复, 复议/诉讼). The builders record, next to the steps, the facts the
report is made of (receipt date, closing date and outcome, fees, appeals); `expected_report` counts them with the
rules of annual-report-contract.md — nothing here reads the statistics service's code.

Coverage, asserted by the test on the scenario itself: applications received in 2025 at the finance bureau come
from every channel and every applicant type; every result row of table 三 closes at least one of them in 2025;
applications received in 2024 are answered in 2025 (carried over), 2025 applications are still open at year end
(carried forward: accepted, in 补正, in 征求意见, awaiting the fee, drafted, never confirmed); a letter submitted in
December 2025 but confirmed in January 2026 belongs to 2026 (第三十一条); appeals are decided in 2024, 2025 and 2026
or never; fees are noticed in one year and paid in the next.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

# The contract's keys (annual-report-contract.md), written out here rather than imported from the report code.
APPLICANTS = ["natural_person", "commercial_enterprise", "research_institution", "social_welfare_org",
              "legal_service_org", "other_org"]
COLUMNS = [*APPLICANTS, "total"]
RESULT_ROWS = [
    "granted", "partially_granted", "withheld.state_secret", "withheld.prohibited_by_law",
    "withheld.endangers_security_stability", "withheld.third_party_rights", "withheld.internal_affairs",
    "withheld.process_information", "withheld.enforcement_case_file", "withheld.administrative_query",
    "unable.not_held", "unable.needs_creation", "unable.still_unclear_after_supplement",
    "not_processed.petition_complaint", "not_processed.repeat_application", "not_processed.publication_requested",
    "not_processed.excessive_volume", "not_processed.confirmation_requested", "other.no_supplement",
    "other.fee_unpaid", "other.other"]
ROWS = ["new_received", "carried_over", *RESULT_ROWS, "results_total", "carried_forward"]
CHANNELS = ["in_person", "mail_signed", "mail_ordinary", "online", "email", "fax", "other"]
IMMEDIATE = ("in_person", "mail_signed")  # 第三十一条: received the day handed in / signed for
APPEAL_KINDS = ["reconsideration", "litigation_direct", "litigation_after_reconsideration"]
APPEAL_COLUMNS = ["upheld", "corrected", "other", "pending", "total"]

CITY, DEPT, OFFICE, STREET = "CITY", "DEPT", "OFFICE", "STREET"  # organ roles; codes come from the catalogue
PARENTS = {CITY: None, DEPT: CITY, OFFICE: DEPT, STREET: CITY}

_seq = count()


def d(text: str) -> date:
    return date.fromisoformat(text)


@dataclass
class Step:
    day: date
    seq: int
    action: str
    case: "Case | None"
    args: dict[str, Any]


@dataclass
class Appeal:
    kind: str
    filed: date
    decided: date | None = None
    outcome: str = "pending"
    id: str | None = None  # set by the replay
    etag: str | None = None


@dataclass
class Case:
    key: str
    organ: str
    channel: str
    applicant: str
    submitted: date
    scenario: "Scenario"
    receipt: date | None = None  # 收到申请之日 once known
    outcome: str | None = None
    closed: date | None = None
    fee_noticed: date | None = None
    fee_amount: Decimal | None = None
    fee_paid: date | None = None
    fee_paid_amount: Decimal | None = None
    appeals: list[Appeal] = field(default_factory=list)
    id: str | None = None  # set by the replay
    etag: str | None = None

    def _step(self, day: str | date, action: str, **args: Any) -> "Case":
        self.scenario.steps.append(Step(d(day) if isinstance(day, str) else day, next(_seq), action, self, args))
        return self

    def confirm(self, day: str) -> "Case":
        self.receipt = d(day)
        return self._step(day, "confirm")

    def supplement(self, day: str, *, days: int, received: str | None = None) -> "Case":
        self._step(day, "request_supplement", days=days)
        return self._step(received, "receive_supplement") if received else self

    def close_unsupplemented(self, day: str) -> "Case":
        self.outcome, self.closed = "other.no_supplement", d(day)
        return self._step(day, "close_unsupplemented")

    def consult(self, day: str, kind: str, *, answered: str | None = None, opinion: str = "consent") -> "Case":
        self._step(day, "consult", party_kind=kind)
        return self._step(answered, "record_opinion", opinion=opinion) if answered else self

    def ask_reasons(self, day: str, *, days: int, received: str | None = None) -> "Case":
        """第三十五条: the applicant is asked to explain (说明理由) before a 不予处理 or a deferral."""
        self._step(day, "request_explanation", days=days)
        return self._step(received, "record_explanation") if received else self

    def extend(self, day: str, days: int) -> "Case":
        return self._step(day, "extend", days=days)

    def fee(self, day: str, pages: int, amount: str, *, paid: str | None = None,
            waived: str | None = None) -> "Case":
        self.fee_noticed, self.fee_amount = d(day), Decimal(amount)
        self._step(day, "notify_fee", pages=pages, amount=amount)
        if paid:
            self.fee_paid, self.fee_paid_amount = d(paid), Decimal(amount)
            self._step(paid, "record_payment", amount=amount)
        if waived:
            self._step(waived, "waive_fee")
        return self

    def close_unpaid(self, day: str) -> "Case":
        self.outcome, self.closed = "other.fee_unpaid", d(day)
        return self._step(day, "close_unpaid")

    def draft(self, day: str, outcome: str, *, returned: str | None = None, **extra: Any) -> "Case":
        """Drafted only (答复待签发), e.g. still waiting for the sign-off at year end."""
        self._step(day, "draft_reply", outcome=outcome, **extra)
        if returned:  # the approver sends it back once, the handler drafts again the same day
            self._step(returned, "return_reply")
            self._step(returned, "draft_reply", outcome=outcome, **extra)
        return self

    def approve(self, day: str, outcome: str) -> "Case":
        self.outcome, self.closed = outcome, d(day)
        return self._step(day, "approve_reply")

    def reply(self, day: str, outcome: str, *, drafted: str | None = None, returned: str | None = None,
              **extra: Any) -> "Case":
        self.draft(drafted or day, outcome, returned=returned, **extra)
        return self.approve(day, outcome)

    def appeal(self, kind: str, filed: str, decided: str | None = None, outcome: str = "pending") -> "Case":
        appeal = Appeal(kind, d(filed), d(decided) if decided else None, outcome)
        self.appeals.append(appeal)
        self._step(filed, "file_appeal", appeal=appeal)
        if decided:
            self._step(decided, "decide_appeal", appeal=appeal)
        return self


@dataclass
class Consultation:
    organ: str
    channel: str
    day: date


@dataclass
class Document:
    key: str
    organ: str
    genre: str
    written: date
    repealed: date | None = None
    id: str | None = None


@dataclass
class Scenario:
    cases: list[Case] = field(default_factory=list)
    consultations: list[Consultation] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # organ role → PUT …/2025/figures body
    steps: list[Step] = field(default_factory=list)

    def apply(self, key: str, organ: str, channel: str, applicant: str, day: str, *,
              confirm: str | None = None) -> Case:
        """Intake on `day`: handed in / signed for (the receipt date), else submitted and — if `confirm` —
        confirmed with the applicant on that later day (the receipt date)."""
        case = Case(key, organ, channel, applicant, d(day), self)
        self.cases.append(case)
        case._step(day, "submit_online" if channel == "online" else "register")
        if channel in IMMEDIATE:
            case.receipt = d(day)
        elif confirm:
            case.confirm(confirm)
        return case

    def consult(self, organ: str, channel: str, day: str) -> None:
        self.consultations.append(Consultation(organ, channel, d(day)))
        self.steps.append(Step(d(day), next(_seq), "record_consultation", None, {"organ": organ, "channel": channel}))

    def timeline(self) -> list[Step]:
        return sorted(self.steps, key=lambda s: (s.day, s.seq))


def build() -> Scenario:
    s = Scenario()
    # --- received in 2024 -----------------------------------------------------------------------------------------
    s.apply("P1", DEPT, "in_person", "natural_person", "2024-11-04").reply("2024-11-25", "granted")
    s.apply("P2", DEPT, "online", "commercial_enterprise", "2024-12-16", confirm="2024-12-17") \
        .extend("2025-01-10", 15).reply("2025-02-12", "partially_granted", drafted="2025-02-10")
    s.apply("P3", DEPT, "mail_signed", "research_institution", "2024-12-20") \
        .consult("2024-12-27", "third_party", answered="2025-01-10", opinion="object") \
        .reply("2025-01-20", "withheld.third_party_rights") \
        .appeal("reconsideration", "2025-03-03", "2025-05-20", "upheld")
    s.apply("P4", DEPT, "email", "legal_service_org", "2024-12-23", confirm="2024-12-24") \
        .supplement("2024-12-30", days=5).close_unsupplemented("2025-01-20")
    s.apply("P5", DEPT, "fax", "social_welfare_org", "2024-12-30", confirm="2025-01-02") \
        .reply("2025-01-15", "granted")  # sent in 2024, received (confirmed) in 2025
    s.apply("P6", DEPT, "in_person", "natural_person", "2024-06-03").reply("2024-06-20", "unable.not_held") \
        .appeal("reconsideration", "2024-08-01", "2024-10-10", "corrected") \
        .appeal("litigation_after_reconsideration", "2024-10-25", "2025-04-15", "upheld")
    s.apply("P7", DEPT, "in_person", "other_org", "2024-09-02").reply("2024-09-20", "withheld.process_information") \
        .appeal("litigation_direct", "2024-11-05", "2026-03-10", "other")
    s.apply("P8", OFFICE, "in_person", "natural_person", "2024-12-27").reply("2025-01-08", "granted")
    s.apply("P9", DEPT, "mail_ordinary", "natural_person", "2024-12-02", confirm="2024-12-03") \
        .fee("2024-12-10", 40, "100.00", paid="2025-01-06").reply("2025-01-16", "granted")

    # --- received and answered in 2025: every result row ---------------------------------------------------------
    s.apply("A1", DEPT, "online", "natural_person", "2025-02-10", confirm="2025-02-11").reply("2025-03-03", "granted")
    s.apply("A2", DEPT, "in_person", "commercial_enterprise", "2025-02-17") \
        .reply("2025-02-28", "granted", drafted="2025-02-26", returned="2025-02-27", already_published=True)
    s.apply("A3", DEPT, "email", "research_institution", "2025-03-10", confirm="2025-03-11") \
        .consult("2025-03-14", "co_author_organ", answered="2025-03-24", opinion="consent") \
        .reply("2025-04-08", "partially_granted")
    s.apply("A4", DEPT, "mail_signed", "natural_person", "2025-03-17").reply("2025-03-28", "withheld.state_secret")
    s.apply("A5", DEPT, "fax", "legal_service_org", "2025-04-07", confirm="2025-04-08") \
        .reply("2025-04-21", "withheld.prohibited_by_law")
    s.apply("A6", DEPT, "other", "other_org", "2025-04-14", confirm="2025-04-14") \
        .reply("2025-04-30", "withheld.endangers_security_stability")
    s.apply("A7", DEPT, "in_person", "social_welfare_org", "2025-05-06") \
        .consult("2025-05-08", "third_party", answered="2025-05-22", opinion="object") \
        .reply("2025-06-05", "withheld.third_party_rights") \
        .appeal("litigation_direct", "2025-06-20", "2025-10-20", "corrected")
    s.apply("A8", DEPT, "online", "natural_person", "2025-05-12", confirm="2025-05-13") \
        .reply("2025-05-27", "withheld.internal_affairs")
    s.apply("A9", DEPT, "mail_ordinary", "commercial_enterprise", "2025-05-19", confirm="2025-05-20") \
        .extend("2025-06-10", 10).reply("2025-06-25", "withheld.process_information")
    s.apply("A10", DEPT, "in_person", "natural_person", "2025-06-09") \
        .reply("2025-06-20", "withheld.enforcement_case_file") \
        .appeal("reconsideration", "2025-07-01", "2025-08-29", "other") \
        .appeal("litigation_after_reconsideration", "2025-09-10", "2026-02-10", "upheld")
    s.apply("A11", DEPT, "email", "natural_person", "2025-06-16", confirm="2025-06-16") \
        .reply("2025-06-27", "withheld.administrative_query")
    s.apply("A12", DEPT, "online", "research_institution", "2025-07-07", confirm="2025-07-08") \
        .reply("2025-07-18", "unable.not_held").appeal("reconsideration", "2025-11-20")  # still pending
    s.apply("A13", DEPT, "fax", "commercial_enterprise", "2025-07-14", confirm="2025-07-15") \
        .reply("2025-08-01", "unable.needs_creation")
    s.apply("A14", DEPT, "online", "natural_person", "2025-07-21", confirm="2025-07-22") \
        .supplement("2025-07-25", days=10, received="2025-08-04") \
        .reply("2025-08-20", "unable.still_unclear_after_supplement")
    s.apply("A15", DEPT, "mail_signed", "natural_person", "2025-08-11") \
        .reply("2025-08-18", "not_processed.petition_complaint")
    s.apply("A16", DEPT, "online", "natural_person", "2025-08-25", confirm="2025-08-26") \
        .reply("2025-09-02", "not_processed.repeat_application")
    s.apply("A17", DEPT, "in_person", "legal_service_org", "2025-09-01") \
        .reply("2025-09-10", "not_processed.publication_requested")
    s.apply("A18", DEPT, "email", "other_org", "2025-09-08", confirm="2025-09-09") \
        .ask_reasons("2025-09-10", days=5, received="2025-09-15") \
        .reply("2025-09-19", "not_processed.excessive_volume")
    s.apply("A19", DEPT, "mail_ordinary", "social_welfare_org", "2025-09-15", confirm="2025-09-16") \
        .reply("2025-09-26", "not_processed.confirmation_requested")
    s.apply("A20", DEPT, "online", "commercial_enterprise", "2025-10-13", confirm="2025-10-13") \
        .supplement("2025-10-15", days=5).close_unsupplemented("2025-11-03")
    s.apply("A21", DEPT, "in_person", "natural_person", "2025-10-20") \
        .fee("2025-10-24", 250, "4700.00").close_unpaid("2025-12-01")  # due 20 working days after the notice
    s.apply("A22", DEPT, "other", "natural_person", "2025-11-03", confirm="2025-11-03") \
        .reply("2025-11-14", "other.other")
    s.apply("A23", DEPT, "mail_signed", "research_institution", "2025-11-10") \
        .fee("2025-11-12", 120, "1100.00", paid="2025-11-20").reply("2025-12-01", "granted")
    s.apply("A24", DEPT, "online", "legal_service_org", "2025-11-17", confirm="2025-11-17") \
        .fee("2025-11-19", 35, "50.00", waived="2025-11-21").reply("2025-12-03", "granted")

    # --- received in 2025, open on 31 December -------------------------------------------------------------------
    s.apply("F1", DEPT, "online", "natural_person", "2025-12-15", confirm="2025-12-16").reply("2026-01-09", "granted")
    s.apply("F2", DEPT, "in_person", "commercial_enterprise", "2025-12-22") \
        .supplement("2025-12-26", days=10, received="2026-01-12").reply("2026-01-23", "unable.not_held")
    s.apply("F3", DEPT, "email", "other_org", "2025-12-29", confirm="2025-12-30").consult("2025-12-31", "third_party")
    s.apply("F4", DEPT, "online", "social_welfare_org", "2025-12-30")  # never confirmed: counted from submission
    s.apply("F5", DEPT, "online", "natural_person", "2025-12-30", confirm="2026-01-05")  # received in 2026
    s.apply("F6", DEPT, "mail_ordinary", "research_institution", "2025-12-01", confirm="2025-12-02") \
        .fee("2025-12-10", 60, "300.00", paid="2026-01-07").reply("2026-01-20", "granted")
    s.apply("F7", DEPT, "fax", "natural_person", "2025-12-18", confirm="2025-12-19") \
        .draft("2025-12-30", "granted").approve("2026-01-06", "granted")

    # --- subordinate organs (roll-ups) ---------------------------------------------------------------------------
    s.apply("O1", OFFICE, "in_person", "commercial_enterprise", "2025-03-03").reply("2025-03-14", "granted")
    s.apply("O2", OFFICE, "online", "natural_person", "2025-05-06", confirm="2025-05-07") \
        .reply("2025-05-20", "unable.not_held").appeal("reconsideration", "2025-06-02", "2025-07-15", "corrected")
    s.apply("O3", OFFICE, "email", "other_org", "2025-12-24", confirm="2025-12-24")
    s.apply("S1", STREET, "mail_signed", "natural_person", "2025-04-01").reply("2025-04-10", "granted")
    s.apply("S2", STREET, "in_person", "social_welfare_org", "2025-10-09").reply("2025-10-20", "partially_granted")

    # --- 咨询 ------------------------------------------------------------------------------------------------
    for organ, channel, day in (
            (DEPT, "phone", "2024-12-20"), (DEPT, "phone", "2025-01-06"), (DEPT, "phone", "2025-03-12"),
            (DEPT, "phone", "2025-11-28"), (DEPT, "in_person", "2025-04-02"), (DEPT, "in_person", "2025-09-18"),
            (DEPT, "online", "2025-06-03"), (DEPT, "online", "2025-12-31"), (DEPT, "email", "2025-07-09"),
            (DEPT, "letter", "2025-08-14"), (DEPT, "other", "2025-10-22"), (DEPT, "phone", "2026-01-05"),
            (OFFICE, "phone", "2025-05-15"), (STREET, "in_person", "2025-06-18")):
        s.consult(organ, channel, day)

    # --- section 二: catalogue records and entered figures ------------------------------------------------------
    s.documents = [
        Document("N1", DEPT, "normative_document", d("2024-05-10")),
        Document("N2", DEPT, "normative_document", d("2025-03-01")),
        Document("N3", DEPT, "normative_document", d("2023-06-01"), repealed=d("2025-08-31")),
        Document("D4", DEPT, "notice", d("2025-04-01")),
        Document("N5", OFFICE, "normative_document", d("2025-09-01")),
        Document("R1", CITY, "regulation", d("2025-06-15")),
        Document("R2", CITY, "regulation", d("2022-01-10"), repealed=d("2026-03-01")),
    ]
    s.figures = {
        DEPT: {"administrative_licensing": 230, "administrative_penalty": 41, "administrative_coercion": 3,
               "administrative_fees_10k_yuan": "1.25", "overview": "2025年，我局坚持以公开为常态、不公开为例外。",
               "problems_and_improvements": "一是答复规范性有待提高。", "other_matters": "无。"},
        OFFICE: {"administrative_licensing": 12, "administrative_penalty": 5, "administrative_fees_10k_yuan": "0.30"},
    }
    return s


# --- the report the scenario must produce ----------------------------------------------------------------------

def subtree(organ: str) -> set[str]:
    out = {organ}
    while True:
        more = {o for o, p in PARENTS.items() if p in out} - out
        if not more:
            return out
        out |= more


def received_on(case: Case) -> date:
    """The year an application counts in: its receipt date, or its submission while unconfirmed."""
    return case.receipt or case.submitted


def _closed_by(case: Case, day: date) -> bool:
    return case.closed is not None and case.closed <= day


def rows_of(case: Case, year: int) -> list[str]:
    """The rows of table 三 an application counts in for `year` (annual-report-contract.md counting rules)."""
    received, first, last = received_on(case), date(year, 1, 1), date(year, 12, 31)
    rows = []
    if received.year == year:
        rows.append("new_received")
    if received < first and not _closed_by(case, date(year - 1, 12, 31)):
        rows.append("carried_over")
    if case.closed is not None and case.closed.year == year:
        rows += [case.outcome, "results_total"]  # type: ignore[list-item]
    if received <= last and not _closed_by(case, last):
        rows.append("carried_forward")
    return rows


def expected_section3(cases: list[Case], year: int) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {row: dict.fromkeys(COLUMNS, 0) for row in ROWS}
    for case in cases:
        for row in rows_of(case, year):
            rows[row][case.applicant] += 1
    for values in rows.values():
        values["total"] = sum(values[a] for a in APPLICANTS)
    return rows


def expected_section4(cases: list[Case], year: int) -> dict[str, dict[str, int]]:
    last = date(year, 12, 31)
    out = {kind: dict.fromkeys(APPEAL_COLUMNS, 0) for kind in APPEAL_KINDS}
    for appeal in (a for c in cases for a in c.appeals):
        if appeal.decided is not None and appeal.decided.year == year:
            out[appeal.kind][appeal.outcome] += 1
        elif appeal.filed <= last and (appeal.decided is None or appeal.decided > last):
            out[appeal.kind]["pending"] += 1
        else:
            continue
        out[appeal.kind]["total"] += 1
    return out


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def expected_report(s: Scenario, codes: dict[str, str], organ: str, year: int, *, subordinates: bool) -> dict:
    """The annual report (contract keys) without generated_at and checks."""
    scope = subtree(organ) if subordinates else {organ}
    cases = [c for c in s.cases if c.organ in scope]
    last = date(year, 12, 31)
    section2: dict[str, Any] = {}
    for key, genre in (("regulations", "regulation"), ("normative_documents", "normative_document")):
        docs = [doc for doc in s.documents if doc.organ in scope and doc.genre == genre]
        section2[key] = {"issued": sum(doc.written.year == year for doc in docs),
                         "repealed": sum(doc.repealed is not None and doc.repealed.year == year for doc in docs),
                         "in_force": sum(doc.written <= last and (doc.repealed is None or doc.repealed > last)
                                         for doc in docs)}
    entered = [s.figures.get(o, {}) for o in sorted(scope)] if year == 2025 else []
    for key in ("administrative_licensing", "administrative_penalty", "administrative_coercion"):
        section2[key] = {"decisions": sum(f.get(key, 0) for f in entered)}
    section2["administrative_fees"] = {"amount_10k_yuan": _money(sum(
        (Decimal(f.get("administrative_fees_10k_yuan", "0")) for f in entered), Decimal(0)))}
    noticed = [c for c in cases if c.fee_noticed is not None and c.fee_noticed.year == year]
    collected = [c for c in cases if c.fee_paid is not None and c.fee_paid.year == year]
    by_channel: dict[str, int] = defaultdict(int)
    for con in s.consultations:
        if con.organ in scope and con.day.year == year:
            by_channel[con.channel] += 1
    own = s.figures.get(organ, {}) if year == 2025 else {}
    return {
        "organ_code": codes[organ], "year": year, "format": "2021", "include_subordinates": subordinates,
        "section2": section2,
        "section3": {"columns": COLUMNS, "rows": expected_section3(cases, year)},
        "section4": expected_section4(cases, year),
        "fees": {"notices_issued": len(noticed),
                 "amount_noticed_yuan": _money(sum((c.fee_amount for c in noticed), Decimal(0))),  # type: ignore[misc]
                 "amount_collected_yuan": _money(sum((c.fee_paid_amount for c in collected),  # type: ignore[misc]
                                                     Decimal(0)))},
        "consultations": {"total": sum(by_channel.values()), "by_channel": dict(by_channel)},
        "narrative": {k: own.get(k, "") for k in ("overview", "problems_and_improvements", "other_matters")},
    }


def cell_members(s: Scenario, organ: str, year: int) -> dict[str, set[str]]:
    """Which cases make up each row of table 三 (total column) for one organ: for the drill-down."""
    out: dict[str, set[str]] = {row: set() for row in ROWS}
    for case in (c for c in s.cases if c.organ == organ):
        for row in rows_of(case, year):
            out[row].add(case.key)
    return out
