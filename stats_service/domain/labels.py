"""Chinese labels the statistics service prints: the official annual-report table labels (legal-rules §3, 2021
format, quoted exactly) and the short labels of the request service's vocabularies used by the dashboards.

The vocabularies are the request service's (request_service/vocab.py); services never import each other, so the
few labels a chart needs are repeated here and the codes stay the contract."""

__all__ = [
    "APPEAL_KIND_LABELS",
    "APPEAL_OUTCOME_LABELS",
    "APPLICANT_LABELS",
    "CHANNEL_LABELS",
    "CONSULTATION_CHANNEL_LABELS",
    "OUTCOME_LABELS",
    "SECTION_TITLES",
    "TABLE3_GROUPS",
    "TABLE3_ROW_LABELS",
]

SECTION_TITLES = {
    "1": "一、总体情况",
    "2": "二、主动公开政府信息情况",
    "3": "三、收到和处理政府信息公开申请情况",
    "4": "四、政府信息公开行政复议、行政诉讼情况",
    "5": "五、存在的主要问题及改进情况",
    "6": "六、其他需要报告的事项",
}

# Table 三: the label of each contract row (annual-report-contract.md) as printed in the official table.
TABLE3_ROW_LABELS = {
    "new_received": "一、本年新收政府信息公开申请数量",
    "carried_over": "二、上年结转政府信息公开申请数量",
    "granted": "（一）予以公开",
    "partially_granted": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "withheld.state_secret": "1.属于国家秘密",
    "withheld.prohibited_by_law": "2.其他法律行政法规禁止公开",
    "withheld.endangers_security_stability": "3.危及“三安全一稳定”",
    "withheld.third_party_rights": "4.保护第三方合法权益",
    "withheld.internal_affairs": "5.属于三类内部事务信息",
    "withheld.process_information": "6.属于四类过程性信息",
    "withheld.enforcement_case_file": "7.属于行政执法案卷",
    "withheld.administrative_query": "8.属于行政查询事项",
    "unable.not_held": "1.本机关不掌握相关政府信息",
    "unable.needs_creation": "2.没有现成信息需要另行制作",
    "unable.still_unclear_after_supplement": "3.补正后申请内容仍不明确",
    "not_processed.petition_complaint": "1.信访举报投诉类申请",
    "not_processed.repeat_application": "2.重复申请",
    "not_processed.publication_requested": "3.要求提供公开出版物",
    "not_processed.excessive_volume": "4.无正当理由大量反复申请",
    "not_processed.confirmation_requested": "5.要求行政机关确认或重新出具已获取信息",
    "other.no_supplement": "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "other.fee_unpaid": "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "other.other": "3.其他",
    "results_total": "（七）总计",
    "carried_forward": "四、结转下年度继续办理",
}
# The sub-item groups of 三、本年度办理结果 (prefix of the row key → printed group label).
TABLE3_GROUPS = {
    "withheld": "（三）不予公开",
    "unable": "（四）无法提供",
    "not_processed": "（五）不予处理",
    "other": "（六）其他处理",
}

APPLICANT_LABELS = {
    "natural_person": "自然人",
    "commercial_enterprise": "商业企业",
    "research_institution": "科研机构",
    "social_welfare_org": "社会公益组织",
    "legal_service_org": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
}

CHANNEL_LABELS = {
    "in_person": "当面提交",
    "mail_signed": "邮寄（需签收）",
    "mail_ordinary": "平常信函",
    "online": "互联网（在线申请）",
    "email": "电子邮件",
    "fax": "传真",
    "other": "其他",
}

CONSULTATION_CHANNEL_LABELS = {
    "in_person": "现场咨询",
    "phone": "电话咨询",
    "online": "网上咨询",
    "email": "电子邮件",
    "letter": "信函",
    "other": "其他",
}

# Short labels of the outcomes for charts (the group and the item in one line).
OUTCOME_LABELS = {
    "granted": "予以公开",
    "partially_granted": "部分公开（区分处理）",
    **{key: f"{TABLE3_GROUPS[key.split('.')[0]][3:]}：{TABLE3_ROW_LABELS[key].split('.', 1)[1]}"
       for key in TABLE3_ROW_LABELS if "." in key},
}

APPEAL_KIND_LABELS = {
    "reconsideration": "行政复议",
    "litigation_direct": "未经复议直接起诉",
    "litigation_after_reconsideration": "复议后起诉",
}
APPEAL_OUTCOME_LABELS = {"upheld": "结果维持", "corrected": "结果纠正", "other": "其他结果", "pending": "尚未审结",
                         "total": "总计"}
