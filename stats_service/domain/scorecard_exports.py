"""考评 scorecard exports: XLSX (one sheet, numbers as numbers) and a printable HTML page for the leadership meeting
with a bar chart drawn on the server as inline SVG — no script, no font or style from a CDN, prints as it shows."""

import io
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from stats_service.domain.exports import TEMPLATES

__all__ = ["chart", "render_html", "render_xlsx", "title"]

VERDICTS = {"pass": "合格", "fail": "不合格", "vetoed": "单项否决"}
STATUSES = {"pass": "达标", "fail": "未达标", "not_applicable": "不适用"}
HEADER = ["指标", "Indicator", "数值", "计入 / 总数", "达标要求", "得分", "满分", "状况", "单项否决", "依据"]


def title(card: dict[str, Any]) -> str:
    return f"{card['organ_name']}政务公开考评（{card['from']}至{card['as_of']}）"


def _value(ind: dict[str, Any]) -> str:
    if ind["value"] is None:
        return "—"
    return f"{ind['value'] * 100:.2f}%" if ind["kind"] == "rate" else str(int(ind["value"]))


def _counts(ind: dict[str, Any]) -> str:
    return f"{ind['numerator']} / {ind['denominator']}" if ind["denominator"] is not None else str(ind["numerator"])


def _rule(ind: dict[str, Any]) -> str:
    threshold = ind["pass_if"]["value"]
    shown = f"{threshold * 100:g}%" if ind["kind"] == "rate" else f"{threshold:g}"
    return f"{'≤' if ind['pass_if']['op'] == '<=' else '≥'} {shown}"


def rows(card: dict[str, Any]) -> list[list[Any]]:
    return [[i["name_zh"], i["name_en"], _value(i), _counts(i), _rule(i), i["points"], i["max_points"],
             STATUSES[i["status"]], ("否决" if i["vetoes"] else "是") if i["veto"] else "", i["source"]]
            for i in card["indicators"]]


def render_xlsx(card: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "考评"
    ws.cell(row=1, column=1, value=f"《{title(card)}》").font = Font(bold=True, size=14)
    sheet = card["sheet"]
    ws.cell(row=2, column=1, value=f"指标表：{sheet['name']}（{sheet['id']} 第{sheet['version']}版）"
                                   f"；依据：{sheet['source']}").font = Font(size=9, italic=True)
    for col, text in enumerate(HEADER, start=1):
        ws.cell(row=4, column=col, value=text).font = Font(bold=True)
    for r, values in enumerate(rows(card), start=5):
        for col, value in enumerate(values, start=1):
            ws.cell(row=r, column=col, value=value).alignment = Alignment(wrap_text=col in (1, 2, 10))
    total_row = 5 + len(card["indicators"])
    ws.cell(row=total_row, column=1, value="合计").font = Font(bold=True)
    ws.cell(row=total_row, column=6, value=card["total_points"]).font = Font(bold=True)
    ws.cell(row=total_row, column=7, value=card["max_points"])
    ws.cell(row=total_row, column=8, value=VERDICTS[card["verdict"]]).font = Font(bold=True)
    for letter, width in zip("ABCDEFGHIJ", (24, 30, 10, 12, 10, 8, 8, 8, 8, 50), strict=True):
        ws.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def chart(card: dict[str, Any], width: int = 640, bar: int = 18, gap: int = 10, label: int = 200) -> dict[str, Any]:
    """Bars of points against the maximum per indicator, positions computed here (the SVG is plain markup)."""
    scale = (width - label - 60) / max((i["max_points"] for i in card["indicators"]), default=1) or 1
    bars = []
    for n, ind in enumerate(card["indicators"]):
        y = gap + n * (bar + gap)
        bars.append({"y": y, "text_y": y + bar * 0.75, "label": ind["name_zh"], "x": label,
                     "max_width": round(ind["max_points"] * scale, 1), "width": round(ind["points"] * scale, 1),
                     "value_x": label + round(ind["max_points"] * scale, 1) + 6,
                     "points": f"{ind['points']:g}/{ind['max_points']:g}",
                     "css": "veto" if ind["vetoes"] else ("ok" if ind["passed"] else "bad")})
    return {"width": width, "height": gap + len(bars) * (bar + gap), "bar": bar, "bars": bars}


_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def render_html(card: dict[str, Any]) -> str:
    return _env.get_template("scorecard.html").render(
        title=title(card), card=card, rows=rows(card), header=HEADER, chart=chart(card),
        verdict=VERDICTS[card["verdict"]])
