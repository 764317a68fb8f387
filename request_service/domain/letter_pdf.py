"""Letters (文书) as PDF: the same content as the letter's HTML, laid out for sending and archiving.

- The font is embedded: Noto Serif SC (思源宋体's Noto build, SIL OFL 1.1) ships in the `pylopdf-fonts-zh-cn`
  package as an OpenType/CFF file. ReportLab embeds TrueType outlines only, so each letter's characters are cut out
  of it with fontTools (a few hundred glyphs, not 30,000) and their cubic outlines converted to quadratic ones;
  ReportLab then embeds that subset (FontFile2). The PDF renders the same on a machine with no CJK font at all —
  the old built-in CID font STSong-Light was a name only, drawn with whatever font the reader had.
- Line breaking follows 中文禁则 (`break_lines`): closing punctuation never starts a line, opening brackets never
  end one; lines are justified by spreading the remainder over the characters, as a typeset letter is.
- The signature block (发文机关署名 + 成文日期 + the seal's place, a dashed circle over the date: 印章位置, the seal
  "居中下压署名和成文日期", GB/T 9704) is kept on one page with the last paragraph (never alone on a new page).
"""

import io
import re
import struct
import threading
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any

from request_service.domain.applications import SHANGHAI
from request_service.models import Letter
from request_service.vocab import LetterKind

__all__ = ["CANNOT_END", "CANNOT_START", "break_lines", "font_file", "render_pdf"]

# 行首禁则: never at the start of a line (closing punctuation, GB/T 15834 and common typesetting practice).
CANNOT_START = frozenset("，。、；：？！）》」』】〕〉〗］｝”’…—·％‰℃,.;:?!)]}%")
# 行尾禁则: never at the end of a line (opening brackets and quotes).
CANNOT_END = frozenset("（《「『【〔〈〖［｛“‘([{")
# Doubled marks (破折号 ——, 省略号 ……) are one mark: never split between two lines.
_DOUBLED = frozenset("—…")
_WORD = re.compile(r"[A-Za-z0-9\-_/.:@#&=+~?%]+|\s+|.", re.DOTALL)


def _units(text: str) -> list[str]:
    """The pieces a line may break between: each CJK character, each run of ASCII letters/digits (a number, a URL,
    a tracking number stays whole), each run of spaces; glued by the 禁则 so no break falls inside a glued piece."""
    units: list[str] = []
    for token in _WORD.findall(text):
        if units and not token.isspace() and not units[-1].isspace() and (
                token[0] in CANNOT_START or units[-1][-1] in CANNOT_END
                or (token[0] in _DOUBLED and units[-1][-1] == token[0])):
            units[-1] += token
        else:
            units.append(token)
    return units


def break_lines(text: str, width: float, measure: Callable[[str], float], first_indent: float = 0.0) -> list[str]:
    """Split `text` (one paragraph, no newlines) into lines no wider than `width` by `measure` (the first line is
    `first_indent` narrower), breaking between characters as Chinese allows but never before closing punctuation
    (，。、；：？！）》」』】〕 …) nor after an opening bracket or quote (（《「『【〔 …): 中文禁则.
    The character before a closing mark moves down with it (推出) rather than letting the line overflow.
    Spaces at a break are dropped.
    A single piece wider than a whole line (a very long URL) is the only thing cut anywhere."""
    lines: list[str] = []
    line, used = "", 0.0
    room = width - first_indent
    for unit in _units(text):
        if unit.isspace() and not line:
            continue
        size = measure(unit)
        if used + size <= room or (not line and size <= room):
            line, used = line + unit, used + size
            continue
        if line:
            lines.append(line.rstrip())
            line, used, room = "", 0.0, width
            if unit.isspace():
                continue
        if size <= room:
            line, used = unit, size
            continue
        for char in unit:  # wider than a line on its own: the one place a break may fall anywhere
            char_size = measure(char)
            if line and used + char_size > room:
                lines.append(line)
                line, used, room = "", 0.0, width
            line, used = line + char, used + char_size
    if line.strip():
        lines.append(line.rstrip())
    return lines


# ---------------------------------------------------------------------------------------------------------- font

_FACE = "NotoSerifSC"
# Always in the subset: digits, Latin letters and the punctuation the templates print, so short letters and long
# ones draw these with the same glyphs.
_BASE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + "，。、；：？！（）《》「」『』【】〔〕“”‘’…—·％○"


def font_file() -> Path:
    """The OpenType file of Noto Serif SC shipped by the pylopdf-fonts-zh-cn package."""
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.serif_path())


class _SerifFace:
    """Noto Serif SC, opened once per process, and the TrueType fonts made from it. Each glyph's cubic (CFF)
    outline is converted to quadratic curves (within 1 unit of 1000 per em, invisible at print sizes) and compiled
    the first time a letter uses it, then kept: a letter costs only the characters no letter before it had."""

    def __init__(self) -> None:
        from fontTools.ttLib import TTFont, newTable

        self.font = TTFont(str(font_file()), lazy=True)
        self.cmap: dict[int, str] = self.font.getBestCmap()
        self.glyph_set = self.font.getGlyphSet()
        self.metrics = self.font["hmtx"].metrics
        self.compiled: dict[str, tuple[bytes, tuple[int, int, int, int], int, int]] = {}
        self.lock = threading.Lock()
        self._glyf = newTable("glyf")  # compiling a glyph needs a table to hand; it is not written
        self._glyf.glyphOrder, self._glyf.glyphs = [], {}

    def _compiled(self, name: str) -> tuple[bytes, tuple[int, int, int, int], int, int]:
        """(glyf data, bounds, points, contours) of a glyph, converted and compiled once."""
        from fontTools.pens.cu2quPen import Cu2QuPen
        from fontTools.pens.ttGlyphPen import TTGlyphPen

        entry = self.compiled.get(name)
        if entry is None:
            pen = TTGlyphPen(self.glyph_set)
            self.glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            glyph = pen.glyph()
            glyph.recalcBounds(self._glyf)
            contours = max(glyph.numberOfContours, 0)
            bounds = (glyph.xMin, glyph.yMin, glyph.xMax, glyph.yMax) if contours else (0, 0, 0, 0)
            points = len(glyph.coordinates) if contours else 0
            entry = self.compiled[name] = (glyph.compile(self._glyf, recalcBBoxes=False), bounds, points, contours)
        return entry

    def truetype(self, chars: str) -> bytes:
        """A TrueType font of `chars` (those the face has; others are left to .notdef) with the face's metrics,
        dates, names, copyright and licence (OFL) records."""
        from fontTools.fontBuilder import FontBuilder
        from fontTools.ttLib import newTable
        from fontTools.ttLib.tables._g_l_y_f import Glyph

        source = self.font
        with self.lock:
            mapping = {ord(c): self.cmap[ord(c)] for c in chars if ord(c) in self.cmap}
            order = [".notdef", *sorted(set(mapping.values()) - {".notdef"})]
            entries = {name: self._compiled(name) for name in order}
        builder = FontBuilder(source["head"].unitsPerEm, isTTF=True)
        font = builder.font
        font.recalcBBoxes = False  # bounds and maxima are known (below): glyphs stay compiled
        builder.setupGlyphOrder(order)
        builder.setupCharacterMap(mapping)
        glyf = newTable("glyf")
        glyf.glyphOrder, glyf.glyphs = order, {name: Glyph(entries[name][0]) for name in order}
        font["glyf"], font["loca"] = glyf, newTable("loca")
        builder.setupHorizontalMetrics({name: (self.metrics[name][0], entries[name][1][0]) for name in order})
        inked = [entry[1] for entry in entries.values() if entry[3]]
        head = font["head"]
        for attr in ("created", "modified", "fontRevision"):
            setattr(head, attr, getattr(source["head"], attr))
        head.xMin, head.yMin = min(b[0] for b in inked), min(b[1] for b in inked)
        head.xMax, head.yMax = max(b[2] for b in inked), max(b[3] for b in inked)
        maxp = font["maxp"]
        maxp.maxPoints = max(entry[2] for entry in entries.values())
        maxp.maxContours = max(entry[3] for entry in entries.values())
        maxp.maxZones = 1
        hhea, os2 = source["hhea"], source["OS/2"]
        builder.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap,
                                      advanceWidthMax=max(self.metrics[name][0] for name in order),
                                      minLeftSideBearing=min(entries[name][1][0] for name in order),
                                      xMaxExtent=max(b[2] for b in inked))
        names = {record.nameID: str(record) for record in source["name"].names if record.platformID == 3}
        builder.setupNameTable({"copyright": names.get(0, ""), "familyName": names.get(1, "Noto Serif SC"),
                                "styleName": names.get(2, "Regular"), "fullName": names.get(4, "Noto Serif SC"),
                                "psName": names.get(6, "NotoSerifSC-Regular"), "trademark": names.get(7, ""),
                                "licenseDescription": names.get(13, ""), "licenseInfoURL": names.get(14, "")},
                               mac=False)
        builder.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                         sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                         fsType=os2.fsType, usWeightClass=os2.usWeightClass, achVendID=os2.achVendID,
                         sCapHeight=getattr(os2, "sCapHeight", 0), sxHeight=getattr(os2, "sxHeight", 0))
        builder.setupPost(keepGlyphNames=False)
        out = io.BytesIO()
        builder.save(out)
        return out.getvalue()


@lru_cache(maxsize=1)
def _face() -> _SerifFace:
    return _SerifFace()


@lru_cache(maxsize=64)
def subset_font(chars: str) -> bytes:
    """A TrueType font holding the glyphs of `chars` (sorted, unique) and the base set, from Noto Serif SC."""
    return _face().truetype("".join(sorted(set(chars + _BASE_CHARS))))


_font_lock = threading.Lock()
_font_serial = count(1)


class _EmbeddedFont:
    """Registers the letter's subset with ReportLab for one build, then removes it again: ReportLab's font registry
    is global and keyed by face name, and each letter has its own subset."""

    def __init__(self, text: str) -> None:
        self.data = subset_font("".join(sorted(set(text) - {"\n"})))
        self.name = ""

    def __enter__(self) -> str:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        _font_lock.acquire()
        self.name = f"{_FACE}-{next(_font_serial)}"
        pdfmetrics.registerFont(TTFont(self.name, io.BytesIO(self.data)))
        return self.name

    def __exit__(self, *exc: object) -> None:
        from reportlab.pdfbase import pdfmetrics

        try:
            font = pdfmetrics._fonts.pop(self.name, None)
            if font is not None:
                pdfmetrics._dynFaceNames.pop(font.face.name, None)
        finally:
            _font_lock.release()


# ---------------------------------------------------------------------------------------------------- flowables

def _flowables() -> tuple[type, type]:
    """The two flowables, defined on first use so ReportLab is imported only when a PDF is asked for."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus.flowables import Flowable

    class CJKParagraph(Flowable):
        """A paragraph of Chinese text laid out by `break_lines` (禁则), justified; splits across pages line by line
        (never leaving a single line behind or carrying a single line over when it can avoid it)."""

        def __init__(self, text: str, style: Any, lines: list[tuple[str, float, bool]] | None = None) -> None:
            super().__init__()
            self.text, self.style, self._lines = text, style, lines
            self._width = 0.0

        def _measure(self, s: str) -> float:
            return stringWidth(s, self.style.fontName, self.style.fontSize)

        def _layout(self, width: float) -> list[tuple[str, float, bool]]:
            """(line, indent, justify) per line; the last line of each hard-broken segment is not justified."""
            if self._lines is not None and self._width == width:
                return self._lines
            lines: list[tuple[str, float, bool]] = []
            indent = self.style.firstLineIndent
            for n, segment in enumerate(self.text.split("\n")):
                broken = break_lines(segment, width, self._measure, indent if n == 0 else 0.0) or [""]
                for i, line in enumerate(broken):
                    lines.append((line, indent if n == 0 and i == 0 else 0.0, i < len(broken) - 1))
            self._lines, self._width = lines, width
            return lines

        def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
            self.width = availWidth
            self.height = len(self._layout(availWidth)) * self.style.leading
            return availWidth, self.height

        def split(self, availWidth: float, availHeight: float) -> list[Any]:
            lines = self._layout(availWidth)
            fit = int(availHeight // self.style.leading)
            if fit >= len(lines):
                return [self]
            if len(lines) - fit == 1 and fit > 2:
                fit -= 1  # no widow: carry two lines over
            if fit < 2:
                return []  # no orphan: the whole paragraph moves on
            head = CJKParagraph(self.text, self.style, lines[:fit])
            tail = CJKParagraph(self.text, self.style, lines[fit:])
            head._width = tail._width = availWidth
            tail.style = _no_space_before(self.style)
            return [head, tail]

        def draw(self) -> None:
            style, canvas = self.style, self.canv
            canvas.setFont(style.fontName, style.fontSize)
            canvas.setFillColor(HexColor(style.textColor) if isinstance(style.textColor, str) else style.textColor)
            y = self.height - style.fontSize - (style.leading - style.fontSize) / 2
            for line, indent, justify in self._lines or []:
                used = self._measure(line)
                room = self.width - indent
                x, space = indent, 0.0
                if style.alignment == TA_CENTER:
                    x += (room - used) / 2
                elif style.alignment == TA_RIGHT:
                    x += room - used
                elif style.alignment == TA_JUSTIFY and justify and len(line) > 1:
                    space = max(0.0, (room - used) / (len(line) - 1))
                canvas.drawString(x, y, line, charSpace=space)
                y -= style.leading

    def _no_space_before(style: Any) -> Any:
        from reportlab.lib.styles import ParagraphStyle

        return ParagraphStyle(style.name + "-cont", parent=style, spaceBefore=0, firstLineIndent=0)

    class SignatureBlock(Flowable):
        """发文机关署名 and 成文日期, right-aligned, with the seal's place: a dashed circle of 42 mm (the usual seal of
        an organ) centred on the two lines, the date just below its centre (印章居中下压署名和成文日期)."""

        SEAL = 42 * mm

        def __init__(self, organ: str, issued: str, style: Any) -> None:
            super().__init__()
            self.organ, self.issued, self.style = organ, issued, style

        def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
            self.width, self.height = availWidth, self.SEAL + 4 * mm
            return self.width, self.height

        def draw(self) -> None:
            style, canvas = self.style, self.canv
            size, lead = style.fontSize, style.leading
            right = self.width - 2 * size  # 右空二字 (GB/T 9704)
            centre_y = self.height / 2
            organ_w = stringWidth(self.organ, style.fontName, size)
            date_w = stringWidth(self.issued, style.fontName, size)
            centre_x = right - max(organ_w, date_w) / 2
            canvas.saveState()
            canvas.setStrokeColor(HexColor("#cc0000"))
            canvas.setLineWidth(0.6)
            canvas.setDash(3, 2)
            canvas.circle(centre_x, centre_y, self.SEAL / 2, stroke=1, fill=0)
            canvas.restoreState()
            canvas.setFont(style.fontName, size)
            canvas.setFillColor(HexColor("#000000"))
            canvas.drawString(right - organ_w, centre_y + lead * 0.25, self.organ)
            canvas.drawString(right - date_w, centre_y - lead * 0.75, self.issued)

    return CJKParagraph, SignatureBlock


# ------------------------------------------------------------------------------------------- archival metadata

@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (littleCMS's built-in sRGB, through Pillow, a dependency of ReportLab): the output intent
    that gives the letter's colours (the red issuer line and seal circle) a defined meaning."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    # littleCMS stamps the profile with the time it was made: a fixed date (and the profile ID, an MD5 over the
    # header, zeroed: "not computed", as ICC.1 allows) keep a letter's PDF the same bytes in every process.
    profile[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
    profile[84:100] = bytes(16)
    return bytes(profile)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xmp_packet(*, title: str, author: str, subject: str, creator: str, producer: str, stamp: str) -> bytes:
    """The XMP metadata of the letter, stating what the document information dictionary states (ISO 16684-1
    packet, UTF-8). No PDF/A identification (pdfaid): see the module notes — no validator has checked it."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
 xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{_xml(title)}</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>{_xml(author)}</rdf:li></rdf:Seq></dc:creator>
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{_xml(subject)}</rdf:li></rdf:Alt></dc:description>
<dc:language><rdf:Bag><rdf:li>zh-CN</rdf:li></rdf:Bag></dc:language>
<xmp:CreatorTool>{_xml(creator)}</xmp:CreatorTool>
<xmp:CreateDate>{stamp}</xmp:CreateDate>
<xmp:ModifyDate>{stamp}</xmp:ModifyDate>
<xmp:MetadataDate>{stamp}</xmp:MetadataDate>
<pdf:Producer>{_xml(producer)}</pdf:Producer>
<pdf:Keywords></pdf:Keywords>
<pdf:Trapped>False</pdf:Trapped>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


class _Stamp:
    """A fixed time for the document information dictionary (ReportLab's TimeStamp interface): the letter's own
    creation time in Asia/Shanghai, so a letter always renders to the same bytes and its dates are its own (an
    invariant ReportLab document would say 2000-01-01)."""

    def __init__(self, when: datetime) -> None:
        local = when.astimezone(SHANGHAI)
        self.t = local.timestamp()
        self.YMDhms = (local.year, local.month, local.day, local.hour, local.minute, local.second)
        self.dhh, self.dmm = 8, 0
        self.xmp = local.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _archival(stamp: _Stamp, title: str, author: str, subject: str) -> Callable[[Any, Any], None]:
    """The first page's hook: XMP metadata (unfiltered, as archives require) and an sRGB output intent on the
    catalogue — two things ReportLab does not write by itself — and the letter's own dates in the document info."""
    from reportlab.pdfbase.pdfdoc import PDFArray, PDFCatalog, PDFDictionary, PDFName, PDFStream, PDFString
    from reportlab.pdfbase.pdfdoc import format as pdf_format

    class PlainStream(PDFStream):
        """A stream written as is: ReportLab would compress it, or write an empty /Filter array."""

        def format(self, document: Any) -> bytes:
            dictionary = PDFDictionary(self.dictionary.dict.copy())
            dictionary["Length"] = len(self.content)
            return pdf_format(dictionary, document) + b"\nstream\n" + self.content + b"\nendstream\n"

    def on_first_page(canvas: Any, doc: Any) -> None:
        pdf = canvas._doc
        pdf._timeStamp = stamp  # ReportLab reads the Info dates from here when it writes the file
        info = pdf.info
        catalog = pdf.Catalog
        catalog.Metadata = pdf.Reference(PlainStream(
            PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
            xmp_packet(title=title, author=author, subject=subject, creator=info.creator, producer=info.producer,
                       stamp=stamp.xmp)))
        icc = srgb_profile()
        profile = pdf.Reference(PDFStream(PDFDictionary({"N": 3}), icc))
        catalog.OutputIntents = PDFArray([PDFDictionary({
            "Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFA1"),
            "OutputConditionIdentifier": PDFString("sRGB IEC61966-2.1"), "Info": PDFString("sRGB IEC61966-2.1"),
            "DestOutputProfile": profile})])
        # The catalogue writes only the keys it knows; OutputIntents is not among them in ReportLab 5.
        catalog.__NoDefault__ = [*PDFCatalog.__NoDefault__, "OutputIntents"]

    return on_first_page


# --------------------------------------------------------------------------------------------------------- layout

_BLOCKS = {"h1", "h2", "h3", "p", "li"}


class _BlockParser(HTMLParser):
    """Flattens a letter's HTML into (tag, css class, text) blocks: enough for a flowing PDF layout."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str, str]] = []
        self.title = ""
        self._current: tuple[str, str, list[str]] | None = None
        self._skip = 0
        self._in_title = False
        self._lists: list[list[Any]] = []  # [tag, counter]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in ("ol", "ul"):
            self._lists.append([tag, 0])
        elif tag == "br" and self._current is not None:
            self._current[2].append("\n")
        elif tag in _BLOCKS:
            self._flush()
            prefix = ""
            if tag == "li" and self._lists:
                self._lists[-1][1] += 1
                prefix = f"{self._lists[-1][1]}. " if self._lists[-1][0] == "ol" else "• "
            self._current = (tag, dict(attrs).get("class") or "", [prefix])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in ("ol", "ul") and self._lists:
            self._flush()
            self._lists.pop()
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
        elif self._current is not None:
            self._current[2].append(data)

    def _flush(self) -> None:
        if self._current is not None:
            tag, css, parts = self._current
            text = " ".join("".join(parts).split(" ")).strip()
            text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
            if text.strip():
                self.blocks.append((tag, css, text))
        self._current = None


def _styles(font: str) -> tuple[Any, dict[str, Any]]:
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("body", fontName=font, fontSize=14, leading=24, alignment=TA_JUSTIFY, firstLineIndent=28,
                          textColor="#000000")
    return base, {
        "issuer": ParagraphStyle("issuer", parent=base, fontSize=20, leading=30, alignment=TA_CENTER,
                                 firstLineIndent=0, textColor="#cc0000"),
        "number": ParagraphStyle("number", parent=base, alignment=TA_CENTER, firstLineIndent=0, spaceBefore=4),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=30, alignment=TA_CENTER,
                                firstLineIndent=0, spaceBefore=6, spaceAfter=18),
        "ref": ParagraphStyle("ref", parent=base, alignment=TA_RIGHT, firstLineIndent=0, spaceAfter=8),
        "salutation": ParagraphStyle("salutation", parent=base, firstLineIndent=0, spaceBefore=6),
        "signature": ParagraphStyle("signature", parent=base, firstLineIndent=0, spaceBefore=12),
        "small": ParagraphStyle("small", parent=base, fontSize=11, leading=18, firstLineIndent=0, spaceBefore=12),
        "h3": ParagraphStyle("h3", parent=base, spaceBefore=6),
    }


def render_pdf(letter: Letter) -> bytes:
    """The letter as a PDF (A4, flowing layout of the same content as its HTML), its font subset embedded.
    Deterministic for one letter."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, SimpleDocTemplate

    cjk_paragraph, signature_block = _flowables()
    parser = _BlockParser()
    parser.feed(letter.html)
    parser.close()
    text = parser.title + "".join(block for _, _, block in parser.blocks)
    with _EmbeddedFont(text) as font:
        base, styles = _styles(font)
        story: list[Any] = []
        blocks = parser.blocks
        n = 0
        while n < len(blocks):
            tag, css, block = blocks[n]
            classes = set(css.split())
            if "signature" in classes:
                issued = blocks[n + 1][2] if n + 1 < len(blocks) and "date" in blocks[n + 1][1].split() else ""
                signature = signature_block(block, issued, styles["signature"])
                # 署名不单独成页: the signature and seal go on the page of the last paragraph, or both move on;
                # after a closing formula (特此答复。), the paragraph before it goes along too.
                keep = 2 if n >= 2 and blocks[n - 1][2].startswith("特此") else 1
                last = story[-keep:] if story else []
                del story[len(story) - len(last):]
                story.append(KeepTogether([*last, signature]))
                n += 2 if issued else 1
                continue
            name = next((c for c in ("issuer", "number", "title", "ref", "salutation") if c in classes), None)
            if name is None and classes & {"contact", "note"}:
                name = "small"
            story.append(cjk_paragraph(block, styles.get(name or ("h3" if tag == "h3" else ""), base)))
            n += 1
        buffer = io.BytesIO()
        title = parser.title.strip() or LetterKind(letter.kind).zh
        author = parser.blocks[0][2] if parser.blocks else ""  # the issuing organ (发文机关)
        doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=30 * mm,
                                bottomMargin=28 * mm, title=title, author=author, subject=letter.sha256,
                                creator="Gongkai", invariant=1, initialFontName=font, lang="zh-CN")
        created = letter.created_at or datetime(2000, 1, 1, tzinfo=SHANGHAI)
        archival = _archival(_Stamp(created), title, author, letter.sha256)
        doc.build(story, onFirstPage=archival)
    return buffer.getvalue()
