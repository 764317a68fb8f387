"""Vocabularies of the statistics service."""

from services.vocab import LabeledEnum


class ReportStatus(LabeledEnum):
    """年度报告状态 · annual report sign-off status"""

    DRAFT = ("draft", "草稿", "Draft")
    SUBMITTED = ("submitted", "已报送", "Submitted")
    PUBLISHED = ("published", "已公布", "Published")


class AppealOutcome(LabeledEnum):
    """复议、诉讼结果 · outcome of reconsideration or litigation (annual report table 四)"""

    UPHELD = ("upheld", "结果维持", "Upheld")
    CORRECTED = ("corrected", "结果纠正", "Corrected")
    OTHER = ("other", "其他结果", "Other outcome")
    PENDING = ("pending", "尚未审结", "Pending")


class Breach(LabeledEnum):
    """违规记录 · a breach the request service records on an application: an act the 条例 allows but makes a breach
    (legal-rules §1.13). The codes are the request service's (request_service/vocab.py Breach); services never import
    each other, so the labels are repeated here and the codes stay the contract. A code the request service starts
    recording before this list knows it is still counted, labelled with its code."""

    LATE_SUPPLEMENT_NOTICE = ("late_supplement_notice", "补正告知超过收到申请之日起7个工作日（条例第三十条）",
                              "Supplement notice later than 7 working days after receipt (Art. 30)")


# The article each breach offends, as the request service records it (BREACH_ARTICLES there).
BREACH_ARTICLES = {Breach.LATE_SUPPLEMENT_NOTICE: "条例第三十条"}
