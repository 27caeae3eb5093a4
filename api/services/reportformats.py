"""An issued report version as CSV, XLSX (openpyxl), printable HTML or PDF (WeasyPrint, from
that HTML; Pango and a CJK font, fonts-wqy-microhei, from Debian).

Every format carries what identifies the version: report id, version, issued at and by, the
reason of a correction, and the SHA-256 of the content, so a printed or downloaded copy can be
checked against the records database. Cells hold the content's values as they are (numbers
stay numbers in XLSX; booleans true/false in CSV).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from jinja2 import Environment
from openpyxl import Workbook
from openpyxl.styles import Font
from weasyprint import HTML

from api.services.csvout import CsvTimes, cell
from api.services.reportperiods import local_iso
from store.reports import Version

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MEDIA = "application/pdf"
SHEET_TITLE_MAX = 31  # Excel's limit on sheet names


def identity(v: Version, zone: str) -> list[tuple[str, Any]]:
    c = v.content or {}
    ent = c.get("enterprise") or {}
    out = c.get("outlet") or {}
    return [("title", c.get("title")), ("report", v.report_id), ("version", v.version),
            ("kind", v.subject.kind), ("period", f"{v.subject.period} {v.subject.label}"),
            ("enterprise", f"{ent.get('id', '')} {ent.get('name', '')}".strip()),
            ("outlet", f"{out.get('id', '')} {out.get('name', '')}".strip() or None),
            ("from", c.get("start")), ("to", c.get("end")),
            ("issued_at", local_iso(v.issued_ms, zone)), ("issued_by", v.issued_by),
            ("correction_reason", v.reason), ("sha256", v.sha256), ("basis", c.get("basis"))]


def to_csv(v: Version, zone: str) -> Iterator[str]:
    """The identity lines, then each section: its title, its header line, its rows."""
    times = CsvTimes(zone)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for k, val in identity(v, zone):
        w.writerow([k, cell(val, False, times)])
    for sec in (v.content or {}).get("sections", []):
        w.writerow([])
        w.writerow([f"# {sec['id']}", sec["title"]])
        w.writerow(sec["columns"])
        for row in sec["rows"]:
            w.writerow([cell(x, False, times) for x in row])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def to_xlsx(v: Version, zone: str) -> bytes:
    """A workbook: sheet ``report`` with the identity, then one sheet per section."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has its first sheet
    ws.title = "report"
    bold = Font(bold=True)
    for k, val in identity(v, zone):
        ws.append([k, val])
        ws.cell(ws.max_row, 1).font = bold
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 80
    for sec in (v.content or {}).get("sections", []):
        sheet = wb.create_sheet(str(sec["id"])[:SHEET_TITLE_MAX])
        sheet.append(list(sec["columns"]))
        for c in sheet[1]:
            c.font = bold
        for row in sec["rows"]:
            sheet.append(list(row))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{{ c.title }} {{ v.subject.label }}</title>
<style>
body { font-family: sans-serif; font-size: 11pt; margin: 1.5cm; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; width: 100%; }
th, td { border: 1px solid #999; padding: 2px 5px; text-align: right; }
th { background: #eee; } td.t, th.t { text-align: left; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dt { font-weight: bold; } .sha { font-family: monospace; font-size: 9pt; }
@page { size: A4; margin: 1.5cm; }
@media print { body { margin: 0; } h2 { break-before: auto; } tr { break-inside: avoid; } }
</style></head><body>
<h1>{{ c.title }}</h1>
<dl>{% for k, val in ident %}{% if val is not none %}<dt>{{ k }}</dt>
<dd{% if k == "sha256" %} class="sha"{% endif %}>{{ val }}</dd>{% endif %}{% endfor %}</dl>
{% for sec in c.sections %}<h2>{{ sec.title }}</h2>
<table><thead><tr>{% for col in sec.columns %}<th class="t">{{ col }}</th>{% endfor %}</tr>
</thead><tbody>{% for row in sec.rows %}<tr>{% for x in row %}
<td{% if x is string %} class="t"{% endif %}>{{ show(x) }}</td>{% endfor %}</tr>
{% else %}<tr><td class="t" colspan="{{ sec.columns|length }}">-</td></tr>{% endfor %}
</tbody></table>{% endfor %}
</body></html>
""")


def to_html(v: Version, zone: str) -> str:
    """A printable page (the browser's print to PDF keeps the tables' rows whole)."""
    times = CsvTimes(zone)
    return PAGE.render(v=v, c=v.content or {}, ident=identity(v, zone),
                       show=lambda x: cell(x, False, times))


def to_pdf(v: Version, zone: str) -> bytes:
    """The printable page as PDF (A4, the page's own print styles)."""
    pdf: bytes = HTML(string=to_html(v, zone)).write_pdf()
    return pdf
