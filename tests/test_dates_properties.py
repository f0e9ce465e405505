"""Property tests for the date engine: it never raises, never hangs, and never states a date the
input does not state."""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.dates import INFO, PartialDate, find_labelled_date, parse_date, parse_line, place_names
from test_dates import MONTHS_BY_LANGUAGE, WEEKDAYS_BY_LANGUAGE

# The gazetteer loads on first need (half a second): loaded here, so no timed example pays for it.
place_names()

# A generous bound: catastrophic backtracking takes seconds to hours, a normal call microseconds.
BOUNDED = settings(deadline=timedelta(seconds=1), max_examples=300, suppress_health_check=[HealthCheck.too_slow])

MONTH_NAMES = {
    1: ["Jan", "JAN", "January", "enero", "ene", "ENE"], 2: ["Feb", "FEB", "February", "febrero"],
    3: ["Mar", "March", "marzo", "MAR"], 4: ["Apr", "April", "abril", "abr", "APRIL"], 5: ["May", "mayo", "MAY"],
    6: ["Jun", "June", "junio"], 7: ["Jul", "July", "julio", "JUL"], 8: ["Aug", "August", "agosto", "ago"],
    9: ["Sep", "Sept", "September", "septiembre", "set", "setiembre"], 10: ["Oct", "October", "octubre", "OCT"],
    11: ["Nov", "November", "noviembre"], 12: ["Dec", "December", "diciembre", "dic", "DEC"],
}
PLACES = ["MOSCOW", "SAN SALVADOR", "Santiago de Chile", "Buenos Aires", "TÚNEZ", "Lima", "BOGOTA",
          "Ciudad de Guatemala", "SAN JOSÉ", "Madrid"]
AGENCIES = ["EFE", "AFP", "Reuters/EP", "EUROPA PRESS", "RADIO VENCEREMOS", "Interfax", "CNR"]
STORY = ["The court ruled", "La Fiscalía informó", "THE ARMY REPORTED", "Miles de personas marcharon"]
# Text made of what datelines are made of: the hardest input for the patterns.
DATELINE_ALPHABET = st.sampled_from(list("ADEFJMNOSUaeinor0123456789 ,.-—/()[]:") + ["de ", "Jan", "JAN", " 90",
                                                                                       "(EFE)", " -- ", "19"])


def _two_digit(year: int) -> str:
    return f"{year % 100:02d}"


@st.composite
def datelines(draw):
    """A wire dateline built from known parts, with the answer those parts imply."""
    year = draw(st.integers(1969, 2068))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    name = draw(st.sampled_from(MONTH_NAMES[month]))
    style = draw(st.sampled_from(["d_mon_y", "d_mon_yy", "d_de_mon_de_y", "mon_d_y", "numeric"]))
    date_text = {
        "d_mon_y": f"{day} {name} {year}",
        "d_mon_yy": f"{day} {name} {_two_digit(year)}",
        "d_de_mon_de_y": f"{day} de {name} de {year}",
        "mon_d_y": f"{name} {day}, {year}",
        "numeric": f"{day:02d}/{month:02d}/{year}",
    }[style]
    place = draw(st.sampled_from(PLACES))
    agency = draw(st.one_of(st.none(), st.sampled_from(AGENCIES)))
    terminator = draw(st.sampled_from([" --", "--", " -", ".-", " —"]))
    opening = f"{place}, {date_text}" + (f" ({agency})" if agency else "") + terminator
    line = f"{opening} {draw(st.sampled_from(STORY))}"
    return line, {"place": place, "date": date(year, month, day).isoformat(), "agency": agency, "raw": opening}


@BOUNDED
@given(datelines())
def test_built_datelines_parse_to_their_parts(case):
    line, expected = case
    assert parse_line(line) == expected


def _stated(iso: str, text: str) -> bool:
    """Whether the text states the parts of this ISO date (year, and month and day when given)."""
    parts = [int(p) for p in iso.split("-")]
    numbers = {int(n) for n in re.findall(r"\d+", text)}
    year_ok = parts[0] in numbers or parts[0] % 100 in numbers
    if len(parts) == 1:
        return year_ok
    lowered = text.lower()
    month_ok = parts[1] in numbers or any(n.lower() in lowered for n in INFO.month_names()
                                          if INFO.month(n) == parts[1])
    day_ok = len(parts) < 3 or parts[2] in numbers
    return year_ok and month_ok and day_ok


def _valid_iso(iso: str) -> bool:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso):
        date.fromisoformat(iso)
        return True
    if re.fullmatch(r"\d{4}-\d{2}", iso):
        return 1 <= int(iso[5:]) <= 12
    return re.fullmatch(r"\d{4}", iso) is not None


def _check(text: str) -> None:
    answer = parse_line(text)
    assert set(answer) == {"place", "date", "agency", "raw"}
    if answer["date"] is not None:
        assert _valid_iso(answer["date"])
        assert _stated(answer["date"], text), (answer, text)
    if answer["raw"] is not None:
        assert answer["raw"] in " ".join(text.split()) or answer["raw"] in text


@BOUNDED
@given(st.text(max_size=10_000))
def test_any_text_returns_quickly_and_states_only_what_it_reads(text):
    _check(text)


@BOUNDED
@given(st.lists(DATELINE_ALPHABET, max_size=3_000).map("".join))
def test_dateline_like_noise_returns_quickly_and_states_only_what_it_reads(text):
    _check(text)


# Issue 11: labelled date lines in six languages.
LABELS = {
    "en": ["Published", "Published on", "Posted on", "Updated:", "Last updated:", "Date:"],
    "es": ["Publicado el", "Publicado:", "Fecha:", "Actualizado el"],
    "de": ["Veröffentlicht am", "Veröffentlicht am:", "Stand:", "Aktualisiert am"],
    "fr": ["Publié le", "Mis à jour le", "Date :"],
    "pt": ["Publicado em", "Atualizado em", "Data:"],
    "it": ["Pubblicato il", "Aggiornato il", "Data:"],
}
TIMES = [", 15:07 Uhr", " at 10:00 am", " - 10:25", " 22:27", " à 15h07", " a las 10:25", " | 9:05 PM", ", 10:25 CET"]
BYLINES = ["", "By John Smith | ", "Por Juan Pérez, ", "Von Anna Schmidt · ", "Par Jean Dupont — "]
PROSE = [("The court met on", "to hear the case"), ("El tribunal se reunió el", "para escuchar a los testigos"),
         ("Das Gericht tagte am", "und hörte die Zeugen"), ("La cour s'est réunie le", "pour entendre les témoins")]


@st.composite
def labelled_lines(draw):
    """A date line built from a label, weekday, date and time of one language, with its date."""
    lang = draw(st.sampled_from(sorted(MONTHS_BY_LANGUAGE)))
    year = draw(st.integers(1969, 2068))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    name = draw(st.sampled_from(MONTHS_BY_LANGUAGE[lang][month - 1]))
    styles = ["d_mon_y", "numeric_dot", "numeric_slash", "iso"]
    styles += {"en": ["mon_d_y"], "es": ["d_de_mon_de_y", "mon_d_de_y"], "pt": ["d_de_mon_de_y"],
               "de": ["d_dot_mon_y"], "fr": [], "it": []}[lang]
    style = draw(st.sampled_from(styles))
    date_text = {
        "d_mon_y": f"{day} {name} {year}",
        "d_de_mon_de_y": f"{day} de {name} de {year}",
        "mon_d_de_y": f"{name.capitalize()} {day} de {year}",
        "d_dot_mon_y": f"{day}. {name} {year}",
        "mon_d_y": f"{name} {day}, {year}",
        "numeric_dot": f"{day:02d}.{month:02d}.{year}",
        "numeric_slash": f"{day}/{month}/{year}",
        "iso": f"{year}-{month:02d}-{day:02d}",
    }[style]
    if draw(st.booleans()) and style != "iso":
        weekday = date(year, month, day).weekday()
        date_text = f"{draw(st.sampled_from(WEEKDAYS_BY_LANGUAGE[lang][weekday]))}, {date_text}"
    label = draw(st.one_of(st.just(""), st.sampled_from(LABELS[lang]).map(lambda text: text + " ")))
    time = draw(st.sampled_from(["", *TIMES, *(["T22:27:00+01:00"] if style == "iso" else [])]))
    return label + date_text + time, date_text, PartialDate(year, month, day)


@BOUNDED
@given(labelled_lines(), st.sampled_from(BYLINES))
def test_built_labelled_lines_parse_to_their_date(case, byline):
    line, _date_text, expected = case
    assert parse_date(line) == expected, line
    assert find_labelled_date(byline + line) == expected, byline + line


@BOUNDED
@given(labelled_lines(), st.sampled_from(PROSE))
def test_a_date_inside_a_sentence_is_not_a_date_line(case, sentence):
    _line, date_text, _expected = case
    text = f"{sentence[0]} {date_text} {sentence[1]}"
    assert find_labelled_date(text) is None, text
    assert parse_date(text) is None, text


@BOUNDED
@given(st.one_of(st.text(max_size=200), st.lists(DATELINE_ALPHABET, max_size=60).map("".join)))
def test_find_labelled_date_states_only_what_it_reads(text):
    for year_only in (False, True):
        found = find_labelled_date(text, year_only=year_only)
        if found is not None and found.year is not None:
            assert _valid_iso(found.iso())
            assert _stated(found.iso(), text), (found, text)
            assert year_only or found.month is not None, (found, text)


@BOUNDED
@given(st.integers(1000, 2999), st.sampled_from(["", " views", " visitas", " Aufrufe", "©", "© ", "-2023"]))
def test_numbers_are_not_years_by_default(number, decoration):
    text = f"{decoration}{number}" if decoration.startswith("©") else f"{number}{decoration}"
    assert parse_date(text) is None
    assert find_labelled_date(text) is None
