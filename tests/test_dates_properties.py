"""Property tests for the date engine: it never raises, never hangs, and never states a date the
input does not state."""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.dates import INFO, parse_line

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
