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
