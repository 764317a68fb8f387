from fastapi import APIRouter
from pydantic import BaseModel

from services.vocab import ConsultationChannel, Term, vocabulary
from stats_service.vocab import (
    AppealKind,
    AppealOutcome,
    Breach,
    IndicatorKind,
    IndicatorStatus,
    ReportStatus,
    ScoreRecordType,
    Table3Column,
    Table3Row,
    Verdict,
)

PREFIX = "/api/v1/stats"
router = APIRouter(prefix=PREFIX)


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]


@router.get("/vocabularies", tags=["vocabularies"], summary="Controlled vocabularies (代码表) with Chinese labels",
            response_model=VocabularyRead)
async def list_vocabularies() -> VocabularyRead:
    return VocabularyRead(vocabularies=vocabulary(
        ReportStatus, AppealKind, AppealOutcome, Breach, Table3Row, Table3Column, ConsultationChannel,
        IndicatorKind, IndicatorStatus, Verdict, ScoreRecordType))
