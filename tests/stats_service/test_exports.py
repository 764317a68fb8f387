"""Exports of the annual report in the official layout: XLSX merged headers and numbers, CSV with BOM and Chinese
row labels, printable HTML with all six sections; same access rule and figures as the JSON report."""

import csv
import io

import pytest
from openpyxl import load_workbook

from stats_service.domain.exports import TABLE3_CORNER
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats/annual-reports"
CITY, DEPT, OTHER = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000009Z"
TITLE = "《示例市财政局2026年政府信息公开工作年度报告》"


@pytest.fixture
async def scenario(stats, stats_db):
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    catalog.add("document.published", "document", "d1", 1, {
        "public": True, "organ_code": DEPT, "genre": "normative_document", "validity": "in_force",
        "written_date": "2026-02-01", "repeal_date": None})
    apps = Apps(requests)
    carried = apps.put(organ_code=DEPT, applicant_type="commercial_enterprise", receipt_date="2025-12-20")
    apps.put(carried, status="replied", closed_on="2026-01-10", outcome="granted")
    for applicant, outcome in (("natural_person", "withheld.third_party_rights"),
                               ("natural_person", "withheld.third_party_rights"),
                               ("legal_service_org", "partially_granted"),
                               ("research_institution", "other.fee_unpaid"),
                               ("social_welfare_org", "unable.not_held")):
        a = apps.put(organ_code=DEPT, applicant_type=applicant, receipt_date="2026-03-02")
        apps.put(a, status="replied" if not outcome.startswith("other.") else "closed", closed_on="2026-03-20",
                 outcome=outcome)
    apps.put(organ_code=DEPT, receipt_date="2026-12-28")  # carried forward
    fee = apps.put(organ_code=DEPT, receipt_date="2026-04-01", fee_amount="4700.00", fee_noticed_on="2026-04-10")
    apps.put(fee, fee_paid_amount="4700.00", fee_paid_on="2026-04-15",
             appeals=[{"id": "r1", "kind": "reconsideration", "outcome": "corrected", "filed_on": "2026-05-01",
                       "decided_on": "2026-06-20"},
                      {"id": "l1", "kind": "litigation_direct", "outcome": "pending", "filed_on": "2026-07-01",
                       "decided_on": None}])
    requests.add("consultation.recorded", "consultation", "c1", 1,
                 {"organ_code": DEPT, "channel": "phone", "received_on": "2026-04-01"})
    await drain(stats_db, catalog, requests)
    r = await stats.put(f"{API}/{DEPT}/2026/figures", headers=auth("stats_officer", organ=DEPT), json={
        "administrative_licensing": 120, "administrative_penalty": 7, "administrative_coercion": 1,
        "administrative_fees_10k_yuan": "12.50",
        "overview": "本年度，我局坚持以公开为常态。\n<script>alert(1)</script>",
        "problems_and_improvements": "一是公开内容还不够全面。"})
    assert r.status_code == 200, r.text
    return catalog, apps


def merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


async def test_xlsx_has_the_official_merged_headers_and_numbers(stats, scenario):
    r = await stats.get(f"{API}/{DEPT}/2026/export.xlsx", headers=auth("stats_officer", organ=DEPT))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["x-report-status"] == "draft"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="annual-report-{DEPT}-2026.xlsx"; filename*=UTF-8\'\''
        "%E7%A4%BA%E4%BE%8B%E5%B8%82%E8%B4%A2%E6%94%BF%E5%B1%802026%E5%B9%B4%E6%94%BF%E5%BA%9C%E4%BF%A1%E6%81%AF%E5"
        "%85%AC%E5%BC%80%E5%B7%A5%E4%BD%9C%E5%B9%B4%E5%BA%A6%E6%8A%A5%E5%91%8A.xlsx")
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["二 主动公开", "三 依申请公开", "四 复议诉讼", "六 其他事项"]

    ws = wb["三 依申请公开"]
    assert ws["A1"].value == TITLE and "A1:J1" in merged(ws)
    assert ws["A3"].value == "三、收到和处理政府信息公开申请情况"
    # Header: corner 3 rows × 3 columns; 申请人情况 over 7 columns; 自然人 / 总计 over 2 rows; 法人或其他组织 over 5.
    assert ws["A4"].value == TABLE3_CORNER and "A4:C6" in merged(ws)
    assert ws["D4"].value == "申请人情况" and "D4:J4" in merged(ws)
    assert ws["D5"].value == "自然人" and "D5:D6" in merged(ws)
    assert ws["E5"].value == "法人或其他组织" and "E5:I5" in merged(ws)
    assert ws["J5"].value == "总计" and "J5:J6" in merged(ws)
    assert [ws.cell(6, c).value for c in range(5, 10)] == ["商业企业", "科研机构", "社会公益组织", "法律服务机构",
                                                           "其他"]
    # Rows, with numbers as numbers.
    assert ws["A7"].value == "一、本年新收政府信息公开申请数量" and "A7:C7" in merged(ws)
    assert [ws.cell(7, c).value for c in range(4, 11)] == [4, 0, 1, 1, 1, 0, 7]
    assert ws["A8"].value == "二、上年结转政府信息公开申请数量"
    assert ws["E8"].value == 1 and ws["J8"].value == 1
    assert ws["A9"].value == "三、本年度办理结果" and "A9:A30" in merged(ws)  # 22 result rows (2021 format)
    assert ws["B9"].value == "（一）予以公开" and "B9:C9" in merged(ws) and ws["E9"].value == 1
    assert ws["B10"].value == "（二）部分公开（区分处理的，只计这一情形，不计其他情形）" and ws["H10"].value == 1
    assert ws["B11"].value == "（三）不予公开" and "B11:B18" in merged(ws)
    assert ws["C11"].value == "1.属于国家秘密" and ws["C13"].value == "3.危及“三安全一稳定”"
    assert ws["C14"].value == "4.保护第三方合法权益" and ws["D14"].value == 2 and ws["J14"].value == 2
    assert ws["B19"].value == "（四）无法提供" and "B19:B21" in merged(ws) and ws["G19"].value == 1
    assert ws["B22"].value == "（五）不予处理" and "B22:B26" in merged(ws)
    assert ws["C26"].value == "5.要求行政机关确认或重新出具已获取信息"
    assert ws["B27"].value == "（六）其他处理" and "B27:B29" in merged(ws)
    assert ws["C28"].value == "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"
    assert ws["F28"].value == 1 and ws["C29"].value == "3.其他"
    assert ws["B30"].value == "（七）总计" and "B30:C30" in merged(ws) and ws["J30"].value == 6
    assert ws["A31"].value == "四、结转下年度继续办理" and "A31:C31" in merged(ws) and ws["J31"].value == 2
    assert ws.max_row == 31
    assert ws.column_dimensions["C"].width > ws.column_dimensions["D"].width

    ws = wb["四 复议诉讼"]
    assert ws["A4"].value == "行政复议" and "A4:E4" in merged(ws)
    assert ws["F4"].value == "行政诉讼" and "F4:O4" in merged(ws)
    assert ws["A5"].value == "结果维持" and "A5:A6" in merged(ws) and ws["E5"].value == "总计"
    assert ws["F5"].value == "未经复议直接起诉" and "F5:J5" in merged(ws)
    assert ws["K5"].value == "复议后起诉" and "K5:O5" in merged(ws)
    assert [ws.cell(6, c).value for c in range(6, 11)] == ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    assert [ws.cell(7, c).value for c in range(1, 16)] == [0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]

    ws = wb["二 主动公开"]
    assert ws["A4"].value == "第二十条第（一）项" and "A4:D4" in merged(ws)
    assert [ws.cell(5, c).value for c in range(1, 5)] == ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]
    assert [ws.cell(7, c).value for c in range(1, 5)] == ["行政规范性文件", 1, 0, 1]
    assert ws["A10"].value == "行政许可" and ws["B10"].value == 120 and "B10:D10" in merged(ws)
    assert ws["B16"].value == "本年收费金额（单位：万元）" and "B16:D16" in merged(ws)
    assert ws["A17"].value == "行政事业性收费" and ws["B17"].value == 12.5 and ws["B17"].number_format == "0.00"

    ws = wb["六 其他事项"]
    assert [ws.cell(4, c).value for c in (1, 2)] == ["本年度发出信息处理费收费通知件数", 1]
    assert ws["B6"].value == 4700


async def test_csv_has_bom_and_the_official_rows(stats, scenario):
    r = await stats.get(f"{API}/{DEPT}/2026/export.csv", headers=auth("auditor", organ=CITY))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [TITLE]
    by_label = {}
    for row in rows:
        label = next((v for v in reversed(row[:3]) if v), None) if len(row) == 10 else None
        if label:
            by_label[label] = row
    assert by_label["一、本年新收政府信息公开申请数量"][3:] == ["4", "0", "1", "1", "1", "0", "7"]
    assert by_label["二、上年结转政府信息公开申请数量"][3:] == ["0", "1", "0", "0", "0", "0", "1"]
    assert by_label["4.保护第三方合法权益"][3:] == ["2", "0", "0", "0", "0", "0", "2"]
    assert by_label["1.本机关不掌握相关政府信息"][1:3] == ["（四）无法提供", "1.本机关不掌握相关政府信息"]
    assert by_label["（七）总计"][3:] == ["2", "1", "1", "1", "1", "0", "6"]
    assert by_label["四、结转下年度继续办理"][3:] == ["2", "0", "0", "0", "0", "0", "2"]
    assert "3.危及“三安全一稳定”" in by_label and "3.其他" in by_label
    assert [TABLE3_CORNER, "", "", "申请人情况", "", "", "", "", "", ""] in rows
    assert ["", "", "", "自然人", "法人或其他组织", "", "", "", "", "总计"] in rows
    # Table 四 block and the fee / consultation lines.
    i = rows.index(["四、政府信息公开行政复议、行政诉讼情况"])
    assert rows[i + 1][:6] == ["行政复议", "", "", "", "", "行政诉讼"]
    assert rows[i + 4] == ["0", "1", "0", "0", "1", "0", "0", "0", "1", "1", "0", "0", "0", "0", "0"]
    assert ["收费通知金额（元）", "4700.00"] in rows and ["实际收取信息处理费金额（元）", "4700.00"] in rows
    assert ["其中：电话咨询", "1"] in rows
    assert ["行政事业性收费", "12.50", "", ""] in rows


async def test_html_is_printable_with_all_sections(stats, scenario):
    r = await stats.get(f"{API}/{DEPT}/2026/export.html", headers=auth("stats_officer", organ=DEPT))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    html = r.text
    for title in ("一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                  "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"):
        assert f"<h2>{title}</h2>" in html
    assert "<h1>示例市财政局2026年政府信息公开工作年度报告</h1>" in html
    assert f'<th rowspan="3" colspan="3" scope="col">{TABLE3_CORNER}</th>' in html
    assert '<th colspan="7" scope="col">申请人情况</th>' in html
    assert '<th rowspan="2" scope="col">自然人</th>' in html
    assert '<td class="label" rowspan="22">三、本年度办理结果</td>' in html
    assert '<th colspan="10" scope="col">行政诉讼</th>' in html
    assert "@media print" in html and "<link" not in html and "src=" not in html
    assert "本年度，我局坚持以公开为常态。" in html and "一是公开内容还不够全面。" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # narrative is escaped
    assert "<dt>实际收取信息处理费金额（元）</dt><dd>4700.00</dd>" in html


async def test_access_rule_and_frozen_figures(stats, stats_db, scenario):
    for ext in ("csv", "xlsx", "html"):
        assert_problem(await stats.get(f"{API}/{DEPT}/2026/export.{ext}"), 404, "report_not_found")
        assert_problem(await stats.get(f"{API}/{DEPT}/2026/export.{ext}", headers=auth("stats_officer", organ=OTHER)),
                       404, "report_not_found")
    assert_problem(await stats.get(f"{API}/{DEPT}/1999/export.csv", headers=auth("admin")), 422)
    officer, head = auth("stats_officer", organ=DEPT), auth("unit_head", organ=DEPT)
    etag = (await stats.get(f"{API}/{DEPT}/2026/status", headers=officer)).headers["etag"]
    etag = (await stats.post(f"{API}/{DEPT}/2026/submit", headers={**officer, "If-Match": etag})).headers["etag"]
    assert (await stats.post(f"{API}/{DEPT}/2026/publish", headers={**head, "If-Match": etag})).status_code == 200
    # A late event inside the year: the published export keeps the frozen figures, as the JSON report does.
    catalog, apps = scenario
    apps.put(organ_code=DEPT, receipt_date="2026-11-02")
    await drain(stats_db, catalog, apps.feed)
    live = (await stats.get(f"{API}/{DEPT}/2026/discrepancies", headers=officer)).json()["items"]
    assert {"cell": "section3.rows.new_received.total", "published": 7, "live": 8} in live
    r = await stats.get(f"{API}/{DEPT}/2026/export.csv")
    assert r.status_code == 200 and r.headers["x-report-status"] == "published"
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert next(row for row in rows if row and row[0] == "一、本年新收政府信息公开申请数量")[-1] == "7"
    assert rows[1][0].startswith("报告状态：已公布")
    wb = load_workbook(io.BytesIO((await stats.get(f"{API}/{DEPT}/2026/export.xlsx")).content))
    assert wb["三 依申请公开"]["J7"].value == 7
    assert "已公布" in (await stats.get(f"{API}/{DEPT}/2026/export.html")).text
    # The JSON route is untouched by the export routes.
    assert (await stats.get(f"{API}/{DEPT}/2026")).json()["section3"]["rows"]["new_received"]["total"] == 7
