from fastapi import APIRouter
from pydantic import BaseModel

from request_service.vocab import ALL_ENUMS
from services.vocab import Term, vocabulary

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX)


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]


@router.get("/vocabularies", tags=["vocabularies"], summary="Controlled vocabularies (代码表) with Chinese labels",
            response_model=VocabularyRead)
async def list_vocabularies() -> VocabularyRead:
    return VocabularyRead(vocabularies=vocabulary(*ALL_ENUMS))
