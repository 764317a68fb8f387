from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from request_service.vocab import ALL_ENUMS, GROUND_ARTICLES, GROUND_ROWS, Outcome, RefusalGround
from services.pagination import Page, ShortListPaging, page_of
from services.vocab import Term, vocabulary

PREFIX = "/api/v1/requests"
router = APIRouter(prefix=PREFIX)


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]


@router.get("/vocabularies", tags=["vocabularies"], summary="Controlled vocabularies (代码表) with Chinese labels",
            response_model=VocabularyRead)
async def list_vocabularies() -> VocabularyRead:
    return VocabularyRead(vocabularies=vocabulary(*ALL_ENUMS))


class WithholdingGroundRead(BaseModel):
    code: RefusalGround
    zh: str
    en: str
    article: str = Field(description="the article it rests on, quoted by the letters, e.g. 条例第十五条")
    report_row: str | None = Field(description="the row of annual-report table 三 a withholding on this ground "
                                               "feeds (an Outcome); none: partial disclosure only (（二）)")
    report_row_zh: str | None


@router.get("/withholding-grounds", tags=["vocabularies"],
            summary="Grounds for withholding and partial disclosure (不予公开理由, "
                    "条例第十四、十五、十六、三十六、三十七条)",
            response_model=Page[WithholdingGroundRead])
async def list_withholding_grounds(request: Request, response: Response, paging: ShortListPaging) -> dict:
    grounds = [WithholdingGroundRead(code=g, zh=g.zh, en=g.en, article=GROUND_ARTICLES[g], report_row=GROUND_ROWS[g],
                                     report_row_zh=Outcome(GROUND_ROWS[g]).zh if GROUND_ROWS[g] else None)
               for g in RefusalGround]
    return page_of(request, response, grounds, paging, key=lambda g: g.code.value)
