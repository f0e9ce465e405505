"""The page the project was founded on, rebuilt in layout C around the text a browser shows for it
(../shared/seeds/nizkor-cyberthreat1.txt; skipped where that file is absent)."""

import html

from conftest import shared_path
from pipelines.records import build_record

TITLE = "Russian diplomat says US never used joint mechanism to fight cyber threats"
URL = "https://www.derechos.org/nizkor/espana/doc/cyberthreat1.html"


def seed_page() -> tuple[bytes, list[str]]:
    shown = shared_path("seeds", "nizkor-cyberthreat1.txt").read_text(encoding="utf-8")
    after_title = shown.split(TITLE, 1)[1]
    body, footer = after_title.split("[Source:", 1)
    paragraphs = [p.strip() for p in body.strip().split("\n\n") if p.strip()]
    notice = footer.split("small logo", 1)[1].strip()
    page = f"""<html><head><title>{TITLE}</title>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head><body bgcolor="#FFFFFF">
<table width="100%" border=0><tr><td align=center><font size=+2>Equipo Nizkor</font></td></tr>
<tr><td align=center><a href="/libros/">Bookshop</a> | <a href="/donate/">Donate</a></td></tr>
<tr><td align=right><a href="/">Derechos</a> | <a href="/nizkor/">Equipo Nizkor</a></td></tr></table>
<p align=center><b><font size=+1>{TITLE}</font></b>
{''.join(f'<p>{html.escape(p)}' for p in paragraphs)}
<p>[Source: Itar Tass, Madrid, 18May17]
<p><a href="/libros/">Bookshop</a> <a href="/donate/">Donate</a> <a href="http://www.radionizkor.org/">Radio Nizkor</a>
<p><font size=-1>Privacy and counterintelligence</font>
<p><img src="/nizkor/small.gif" alt="small logo">{html.escape(notice)}
</body></html>"""
    return page.encode("cp1252"), paragraphs


def test_seed_page_record():
    body, paragraphs = seed_page()
    record = build_record(body, URL)
    assert record["title"] == TITLE
    assert record["section"] == "Privacy and counterintelligence"
    assert record["source"] == {"name": "Itar Tass", "place": "Madrid", "date": "2017-05-18",
                                "raw": "[Source: Itar Tass, Madrid, 18May17]"}
    assert record["published_date"] == "2017-05-18"
    assert record["document_date"] is None  # the body's "In 2014" is not the page's date
    assert record["language"] == "en"
    assert record["text"].startswith("The United States has not used")
    assert record["text"].endswith('internal political struggle.".')
    assert record["text"] == "\n".join(paragraphs)
