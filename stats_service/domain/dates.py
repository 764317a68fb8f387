from datetime import date, datetime
from zoneinfo import ZoneInfo


def today() -> date:
    """Statutory dates are reckoned in Asia/Shanghai."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()
