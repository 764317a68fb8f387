"""Vocabularies of the statistics service."""

from services.vocab import LabeledEnum


class ReportStatus(LabeledEnum):
    """年度报告状态 · annual report sign-off status"""

    DRAFT = ("draft", "草稿", "Draft")
    SUBMITTED = ("submitted", "已报送", "Submitted")
    PUBLISHED = ("published", "已公布", "Published")


class AppealKind(LabeledEnum):
    """复议、诉讼类型 · kind of proceeding (annual report table 四)"""

    RECONSIDERATION = ("reconsideration", "行政复议", "Administrative reconsideration")
    LITIGATION_DIRECT = ("litigation_direct", "未经复议直接起诉", "Litigation without reconsideration")
    LITIGATION_AFTER_RECONSIDERATION = ("litigation_after_reconsideration", "复议后起诉",
                                        "Litigation after reconsideration")


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


class Table3Row(LabeledEnum):
    """年度报告表三的行 · rows of annual report table 三 (收到和处理政府信息公开申请情况); zh is the official wording of
    the 2021 format (legal-rules §3), quoted exactly"""

    NEW_RECEIVED = ("new_received", "一、本年新收政府信息公开申请数量", "I. Applications received this year")
    CARRIED_OVER = ("carried_over", "二、上年结转政府信息公开申请数量", "II. Applications carried over from last year")
    GRANTED = ("granted", "（一）予以公开", "Disclosed")
    PARTIALLY_GRANTED = ("partially_granted", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
                         "Partially disclosed (severed; counted here only)")
    WITHHELD_STATE_SECRET = ("withheld.state_secret", "1.属于国家秘密", "Withheld: state secret")
    WITHHELD_PROHIBITED_BY_LAW = ("withheld.prohibited_by_law", "2.其他法律行政法规禁止公开",
                                  "Withheld: disclosure prohibited by other laws or regulations")
    WITHHELD_ENDANGERS = ("withheld.endangers_security_stability", "3.危及“三安全一稳定”",
                          "Withheld: endangers national, public, economic security or social stability")
    WITHHELD_THIRD_PARTY = ("withheld.third_party_rights", "4.保护第三方合法权益",
                            "Withheld: protects a third party's lawful rights")
    WITHHELD_INTERNAL = ("withheld.internal_affairs", "5.属于三类内部事务信息", "Withheld: internal affairs information")
    WITHHELD_PROCESS = ("withheld.process_information", "6.属于四类过程性信息", "Withheld: process information")
    WITHHELD_CASE_FILE = ("withheld.enforcement_case_file", "7.属于行政执法案卷",
                          "Withheld: administrative enforcement case file")
    WITHHELD_QUERY = ("withheld.administrative_query", "8.属于行政查询事项", "Withheld: administrative query matter")
    UNABLE_NOT_HELD = ("unable.not_held", "1.本机关不掌握相关政府信息", "Unable: the organ does not hold it")
    UNABLE_NEEDS_CREATION = ("unable.needs_creation", "2.没有现成信息需要另行制作",
                             "Unable: would need to be newly created")
    UNABLE_UNCLEAR = ("unable.still_unclear_after_supplement", "3.补正后申请内容仍不明确",
                      "Unable: still unclear after supplement")
    NOT_PROCESSED_PETITION = ("not_processed.petition_complaint", "1.信访举报投诉类申请",
                              "Not processed: petition, report or complaint")
    NOT_PROCESSED_REPEAT = ("not_processed.repeat_application", "2.重复申请", "Not processed: repeated application")
    NOT_PROCESSED_PUBLICATION = ("not_processed.publication_requested", "3.要求提供公开出版物",
                                 "Not processed: asks for a publication")
    NOT_PROCESSED_EXCESSIVE = ("not_processed.excessive_volume", "4.无正当理由大量反复申请",
                               "Not processed: excessive repeated applications without good reason")
    NOT_PROCESSED_CONFIRMATION = ("not_processed.confirmation_requested", "5.要求行政机关确认或重新出具已获取信息",
                                  "Not processed: asks to confirm or reissue information already obtained")
    OTHER_NO_SUPPLEMENT = ("other.no_supplement",
                           "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                           "Other: no supplement in time; no longer processed")
    OTHER_FEE_UNPAID = ("other.fee_unpaid",
                        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
                        "Other: fee not paid in time; no longer processed")
    OTHER_OTHER = ("other.other", "3.其他", "Other: other")
    RESULTS_TOTAL = ("results_total", "（七）总计", "Total of results")
    CARRIED_FORWARD = ("carried_forward", "四、结转下年度继续办理", "IV. Carried forward to next year")


class Table3Column(LabeledEnum):
    """年度报告表三的列 · columns of annual report table 三: the applicant types (申请人情况) and the total"""

    NATURAL_PERSON = ("natural_person", "自然人", "Natural person")
    COMMERCIAL_ENTERPRISE = ("commercial_enterprise", "商业企业", "Commercial enterprise")
    RESEARCH_INSTITUTION = ("research_institution", "科研机构", "Research institution")
    SOCIAL_WELFARE_ORG = ("social_welfare_org", "社会公益组织", "Social welfare organisation")
    LEGAL_SERVICE_ORG = ("legal_service_org", "法律服务机构", "Legal service organisation")
    OTHER_ORG = ("other_org", "其他", "Other legal person or organisation")
    TOTAL = ("total", "总计", "Total")


class IndicatorKind(LabeledEnum):
    """指标类型 · how a scorecard indicator is figured"""

    COUNT = ("count", "计数", "Count of records")
    RATE = ("rate", "比率", "Rate: counted records over records considered")


class IndicatorStatus(LabeledEnum):
    """指标结果 · an indicator's outcome on a scorecard"""

    PASS = ("pass", "达标", "Pass")
    FAIL = ("fail", "未达标", "Fail")
    NOT_APPLICABLE = ("not_applicable", "不适用", "Not applicable (nothing to measure)")


class Verdict(LabeledEnum):
    """考评结论 · the verdict of a scorecard"""

    PASS = ("pass", "合格", "Pass")
    FAIL = ("fail", "不合格", "Fail")
    VETOED = ("vetoed", "单项否决", "Vetoed by a 单项否决 indicator")


class ScoreRecordType(LabeledEnum):
    """下钻记录类型 · the kind of record behind a scorecard figure"""

    COLUMN = ("column", "公开目录栏目", "Catalogue column")
    DOCUMENT = ("document", "政府信息", "Document")
    APPLICATION = ("application", "依申请公开申请", "Application")
    BREACH = ("breach", "违规记录", "Statutory breach")
    APPEAL = ("appeal", "行政复议、行政诉讼", "Administrative reconsideration or litigation")
    ATTACHMENT = ("attachment", "附件", "Attachment")
    STANDARD_ITEM = ("standard_item", "标准目录公开事项", "Standard-catalogue item")
