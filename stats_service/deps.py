"""Dependencies specific to the statistics service: which reads may go to a read replica (只读副本, issue 17).

The figures (dashboards, breaches, report cells) are written only by the feed consumers, never by a caller of this
API: those reads take `services.replicas.ReplicaSessionDep`, a replica for everyone. The annual report itself also
holds what report staff write here (entered figures, sign-off, the frozen published snapshot): those who write it
read it on the primary, so they see their own writes at once; everyone else — the public reading a published
report — on a replica. The sign-off status (its ETag feeds If-Match) and every write stay on the primary."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import Principal
from services.replicas import replica_session

# The roles that change an annual report through this API (api/reports.py: figures, submit, publish, reopen).
REPORT_WRITERS = frozenset({"stats_officer", "integration", "unit_head", "admin"})


def _not_a_report_writer(principal: Principal) -> bool:
    return not principal.has_any(REPORT_WRITERS)


ReportReadSessionDep = Annotated[AsyncSession, Depends(replica_session(allowed=_not_a_report_writer),
                                                       scope="function")]
