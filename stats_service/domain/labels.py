"""Chinese labels the statistics service prints: the official annual-report table labels (legal-rules §3, 2021
format, quoted exactly) and the short labels of the request service's vocabularies used by the dashboards.

The vocabularies are the request service's (request_service/vocab.py); services never import each other, so the
few labels a chart needs are repeated here and the codes stay the contract."""

from stats_service.vocab import Table3Column, Table3Row

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

# Table 三: the label of each contract row (annual-report-contract.md) as printed in the official table; the zh/en
# pairs live in stats_service/vocab.py (Table3Row), which the report's JSON and /vocabularies serve.
TABLE3_ROW_LABELS = {row.value: row.zh for row in Table3Row}
# The sub-item groups of 三、本年度办理结果 (prefix of the row key → printed group label).
TABLE3_GROUPS = {
    "withheld": "（三）不予公开",
    "unable": "（四）无法提供",
    "not_processed": "（五）不予处理",
    "other": "（六）其他处理",
}

APPLICANT_LABELS = {column.value: column.zh for column in Table3Column}  # and the total

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
