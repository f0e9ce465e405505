"""The date engine on the forms derechos.org pages use (site-facts) and on decoys."""

import pytest

from pipelines.dates import PartialDate, parse_date, parse_dateline, parse_line, parse_source_line


@pytest.mark.parametrize(
    "text, iso",
    [
        ("18May17", "2017-05-18"),
        ("14Apr12", "2012-04-14"),
        ("06nov04", "2004-11-06"),
        ("03dic11", "2011-12-03"),
        ("01ago11", "2011-08-01"),
        ("24Oct11", "2011-10-24"),
        ("19set13", "2013-09-19"),
        ("30JUL15", "2015-07-30"),
        ("Julio 2000", "2000-07"),
        ("Medellín, Diciembre 10 de 1997", "1997-12-10"),
        ("2 octubre de 1997", "1997-10-02"),
        ("17 de junio de 2013", "2013-06-17"),
        ("29.10.1996", "1996-10-29"),
        ("07/04/2009", "2009-04-07"),
        ("March 3, 2004", "2004-03-03"),
        ("Nov. 9, 1999", "1999-11-09"),
        ("1997", "1997"),
    ],
)
def test_whole_line_dates_at_the_precision_stated(text, iso):
    assert parse_date(text).iso() == iso


@pytest.mark.parametrize(
    "text, iso",
    [("01Jan69", "1969-01-01"), ("01Jan70", "1970-01-01"), ("31Dec99", "1999-12-31"),
     ("01Jan00", "2000-01-01"), ("31Dec68", "2068-12-31")],
)
def test_two_digit_years_follow_the_fixed_posix_window(text, iso):
    assert parse_date(text).iso() == iso


@pytest.mark.parametrize("text", ["In 2014 the website", "31Feb11", "18Foo17", "", "Privacy and counterintelligence",
                                  "The meeting of 18 May was postponed"])
def test_text_that_is_not_a_date(text):
    assert parse_date(text) is None


def test_a_date_without_a_year_has_no_iso_form():
    assert parse_date("May 23") == PartialDate(None, 5, 23)
    assert PartialDate(None, 5, 23).iso() is None


@pytest.mark.parametrize(
    "line, name, place, iso",
    [
        ("[Source: Itar Tass, Madrid, 18May17]", "Itar Tass", "Madrid", "2017-05-18"),
        ("[Source: Deutsche Presse-Agentur, Moscow, 25May11]", "Deutsche Presse-Agentur", "Moscow", "2011-05-25"),
        ("[Fuente: La Tercera, Santiago de Chile, 06nov04]", "La Tercera", "Santiago de Chile", "2004-11-06"),
        ("[Fuente: La Jornada, México, D.F., 12mar09]", "La Jornada", "México, D.F.", "2009-03-12"),
        ("[Source: The Washington Post, Washington, D.C., 09Jul08]", "The Washington Post", "Washington, D.C.", "2008-07-09"),
        ("[Source: Amnesty International, London]", "Amnesty International", "London", None),
        ("[Fuente: El País]", "El País", None, None),
    ],
)
def test_source_lines(line, name, place, iso):
    source = parse_source_line(line)
    assert (source.name, source.place, source.date.iso() if source.date else None) == (name, place, iso)
    assert source.raw == line


@pytest.mark.parametrize("line", ["[See: http://www.derechos.org/nizkor/espana/doc/index.html#mall]",
                                  "[Nota documental]", "[Ver también: el informe]", "Source: nothing"])
def test_decoy_brackets_are_not_sources(line):
    assert parse_source_line(line) is None


@pytest.mark.parametrize(
    "line, place, iso, agency, raw",
    [
        ("MOSCOW, May 23. /TASS/. The United States", "MOSCOW", "2017-05-23", "TASS", "MOSCOW, May 23. /TASS/."),
        ("MOSCOW. April 19 (Interfax) - Russia", "MOSCOW", "2017-04-19", "Interfax", "MOSCOW. April 19 (Interfax) -"),
        ("BERLIN (AP) — Germany", "BERLIN", None, "AP", "BERLIN (AP) —"),
        ("BRUSSELS (Reuters) - The", "BRUSSELS", None, "Reuters", "BRUSSELS (Reuters) -"),
        ("TÚNEZ, 22 Sep. (Reuters/EP) - El", "TÚNEZ", "2017-09-22", "Reuters/EP", "TÚNEZ, 22 Sep. (Reuters/EP) -"),
        ("MADRID, 10 (EUROPA PRESS) El", "MADRID", None, "EUROPA PRESS", "MADRID, 10 (EUROPA PRESS)"),
        ("Santiago de Chile, 11 sep (EFE).- La", "Santiago de Chile", "2017-09-11", "EFE", "Santiago de Chile, 11 sep (EFE).-"),
        ("Buenos Aires, 17 de junio de 2013.- El", "Buenos Aires", "2013-06-17", None, "Buenos Aires, 17 de junio de 2013.-"),
        ("(New York/London) - Human", "New York/London", None, None, "(New York/London) -"),
        ("Lima, 07/04/2009 (CNR) -- La", "Lima", "2009-04-07", "CNR", "Lima, 07/04/2009 (CNR) --"),
        ("SAN SALVADOR, 3 JAN 90 -- [REPORT] THE", "SAN SALVADOR", "1990-01-03", None, "SAN SALVADOR, 3 JAN 90 --"),
        ("LIMA, 12 MAY 89 (AFP)-- THE", "LIMA", "1989-05-12", "AFP", "LIMA, 12 MAY 89 (AFP)--"),
        ("NO CITY (PERU), NO DATE -- THE", "NO CITY (PERU)", None, None, "NO CITY (PERU), NO DATE --"),
    ],
)
def test_wire_datelines_take_a_missing_year_from_the_page(line, place, iso, agency, raw):
    reference = PartialDate(2017, 5, 18)  # the page's source-line date
    dateline = parse_dateline(line, reference)
    assert dateline.as_record() == {"place": place, "date": iso, "agency": agency, "raw": raw}


def test_a_yearless_dateline_without_page_dates_has_no_date():
    assert parse_dateline("Santiago de Chile, 11 sep (EFE).- La").date.iso() is None


def test_a_december_story_republished_in_january_keeps_its_own_year():
    assert parse_dateline("MOSCOW, Dec. 30 (Interfax) - x", PartialDate(2012, 1, 2)).date.iso() == "2011-12-30"


@pytest.mark.parametrize("line", ["In 2014 the website of the Foreign Ministry was out of operation",
                                  "The meeting of 18 May was postponed", "[See: http://x.org/]",
                                  "[Nota documental]", "Zakharova recalled that Russia", "Madrid, a city of contrasts",
                                  "He said: nothing", ""])
def test_ordinary_text_has_no_dateline(line):
    assert parse_dateline(line) is None
    assert parse_line(line) == {"place": None, "date": None, "agency": None, "raw": None}


def test_muc3_datelines(request):
    from conftest import shared_path

    path = shared_path("data", "muc3", "dev.tsv")
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    right = 0
    for _id, gold_date, gold_place, text in rows:
        dateline = parse_dateline(text)
        got_date = dateline.date.iso() if dateline and dateline.date else ""
        got_place = dateline.place if dateline else ""
        right += (got_date, got_place) == (gold_date, gold_place)
    assert right / len(rows) >= 0.997


def test_own_gold_lines_all_right():
    """tests/data/datelines.gold.jsonl: every form of issue 3 in both languages, and decoys."""
    import json
    from pathlib import Path

    gold = Path(__file__).parent / "data" / "datelines.gold.jsonl"
    cases = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(cases) >= 150
    wrong = []
    for case in cases:
        expected = {key: case[key] for key in ("place", "date", "agency", "raw")}
        got = parse_line(case["line"])
        if got != expected:
            wrong.append((case["line"], got, expected))
    assert not wrong, "\n".join(map(repr, wrong))
