"""A test clock for the request service, so a whole year can be replayed through its real API.

Why it is needed: the API takes explicit dates for most steps (`on`, `filed_on`, `submitted_on` …) but not all. The
submission time of an application is the server's clock (`submitted_at`; ordinary letters, online, e-mail and fax
are then confirmed *on or after* that day, 第三十一条), and an extension (延期), a drafted reply and the signed-off
reply (its closing date) happen "today". Every date the service checks against ("not in the future") is also
"today". So replaying receipts in the previous year and replies on given dates needs "today" to be the scenario's
day.

How: nothing in the service changes. The request service reads the time through two functions,
`request_service.domain.applications.today` (Asia/Shanghai date) and `services.db.utcnow`, imported by name into
its modules, plus the schemas' own `_today` for input validation. This clock rebinds every such name inside the
`request_service` package (found by identity, so a module that starts importing them later is covered too) for
the duration of one test, through pytest's monkeypatch (undone at teardown). Other services keep the real time.
The constructor fails if the known readers were not found (say, intake stopped using `utcnow`), and the replay
checks every registration's `submitted_at` against the clock, so a change in how the service tells the time shows
up as a clear failure, not as wrong figures. No production code knows about this clock.
"""

import sys
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")
KNOWN_READERS = ("request_service.domain.intake.utcnow", "request_service.domain.handling.today",
                 "request_service.domain.appeals.today")


class RequestClock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: date) -> None:
        import request_service.app  # every module of the service loaded, so every binding is found
        import request_service.schemas
        from request_service.domain import applications
        from services import db

        self.now = datetime.combine(start, time(10), SHANGHAI).astimezone(UTC)
        real = {id(applications.today): self.today, id(db.utcnow): self.utcnow}
        self.rebound: list[str] = []
        for name, module in list(sys.modules.items()):
            if name != "request_service" and not name.startswith("request_service."):
                continue
            for attr, value in list(vars(module).items()):
                if callable(value) and id(value) in real:
                    monkeypatch.setattr(module, attr, real[id(value)])
                    self.rebound.append(f"{name}.{attr}")
        monkeypatch.setattr(request_service.schemas, "_today", self.today)
        missing = [r for r in KNOWN_READERS if r not in self.rebound]
        assert not missing, f"the request service no longer reads the time through {missing}: adapt RequestClock"

    def set(self, day: date) -> None:
        """10:00 in Beijing on `day` (the same calendar day in UTC, so UTC-dated fields agree)."""
        self.now = datetime.combine(day, time(10), SHANGHAI).astimezone(UTC)

    def today(self) -> date:
        return self.now.astimezone(SHANGHAI).date()

    def utcnow(self) -> datetime:
        return self.now
