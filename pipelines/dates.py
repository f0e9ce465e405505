"""One date engine for every date a record carries: date lines, source lines, notices, wire datelines.

Month and weekday names, filler words and the two-digit-year rule live in a dateutil ``parserinfo``
subclass (data, not branches); the regular expressions below only say *where* a date or a dateline
starts and ends. Nothing is guessed: a component the text does not state stays ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from dateutil.parser import parserinfo

__all__ = [
    "ArchiveParserInfo",
    "PartialDate",
    "SourceLine",
    "Dateline",
    "parse_date",
    "parse_date_line",
    "parse_source_line",
    "parse_dateline",
    "parse_line",
]


class ArchiveParserInfo(parserinfo):
    """English and Spanish names, and the fixed POSIX ``%y`` window for two-digit years."""

    MONTHS = [
        ("Jan", "January", "ene", "enero"),
        ("Feb", "February", "Febr", "febrero"),
        ("Mar", "March", "marzo"),
        ("Apr", "April", "abr", "abril"),
        ("May", "mayo"),
        ("Jun", "June", "junio"),
        ("Jul", "July", "julio"),
        ("Aug", "August", "ago", "agosto"),
        ("Sep", "Sept", "September", "set", "septiembre", "setiembre"),
        ("Oct", "October", "octubre"),
        ("Nov", "November", "noviembre"),
        ("Dec", "December", "dic", "diciembre"),
    ]
    WEEKDAYS = [
        ("Mon", "Monday", "lunes"),
        ("Tue", "Tues", "Tuesday", "martes"),
        ("Wed", "Wednesday", "miércoles", "miercoles"),
        ("Thu", "Thurs", "Thursday", "jueves"),
        ("Fri", "Friday", "viernes"),
        ("Sat", "Saturday", "sábado", "sabado"),
        ("Sun", "Sunday", "domingo"),
    ]
    JUMP = parserinfo.JUMP + ["de", "del"]
    PERTAIN = ["of", "de", "del"]

    def convertyear(self, year: int, century_specified: bool = False) -> int:
        """POSIX ``%y``: 69-99 -> 1969-1999, 00-68 -> 2000-2068, whatever today's date is."""
        if year < 100 and not century_specified:
            return year + (1900 if year >= 69 else 2000)
        return year

    def month_names(self) -> list[str]:
        return list(self._months)

    def weekday_names(self) -> list[str]:
        return list(self._weekdays)


INFO = ArchiveParserInfo()


@dataclass(frozen=True)
class PartialDate:
    """A date at the precision the text states; ``iso()`` never invents a missing part."""

    year: int | None
    month: int | None = None
    day: int | None = None

    def iso(self) -> str | None:
        if self.year is None:
            return None
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def with_year_from(self, reference: PartialDate | None) -> PartialDate:
        """Give a year-less day and month the year of a date stated elsewhere on the same page.

        A story dated late in the year and republished early in the next takes the earlier year.
        """
        if self.year is not None or self.month is None or reference is None or reference.year is None:
            return self
        year = reference.year
        if reference.month is not None and self.month - reference.month > 6:
            year -= 1
        if self.day is not None and not _valid_day(year, self.month, self.day):
            return PartialDate(None, self.month, self.day)
        return PartialDate(year, self.month, self.day)


@dataclass(frozen=True)
class SourceLine:
    name: str
    place: str | None
    date: PartialDate | None
    raw: str

    def as_record(self) -> dict:
        return {"name": self.name, "place": self.place, "date": _iso(self.date), "raw": self.raw}


@dataclass(frozen=True)
class Dateline:
    place: str | None
    date: PartialDate | None
    agency: str | None
    raw: str

    def as_record(self) -> dict:
        return {"place": self.place, "date": _iso(self.date), "agency": self.agency, "raw": self.raw}


def _iso(value: PartialDate | None) -> str | None:
    return value.iso() if value is not None else None


def _valid_day(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _alternation(names: list[str]) -> str:
    # Longest first so that "septiembre" wins over "sep"; escaped because names may carry accents.
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))


_MONTH_NAME = rf"(?P<month>{_alternation(INFO.month_names())})"
_MONTH = _MONTH_NAME + r"\.?"
_WEEKDAY = rf"(?:(?:{_alternation(INFO.weekday_names())})\.?,?\s+)?"
_YEAR4 = r"(?:1[5-9]\d\d|20\d\d)"
_NOT_WORD = r"(?![\w])"

# Each pattern states one written form; named groups say which part is which.
_DATE_FORMS = [
    # 18May17, 03dic11, 19set13: the Nizkor compact form, no separators.
    rf"(?P<day>\d{{1,2}}){_MONTH_NAME}(?P<year>\d\d(?:\d\d)?){_NOT_WORD}",
    # 2 octubre de 1997, 17 de junio de 2013, 3 JAN 90, 22 Sep., 11 sep
    rf"(?P<day>\d{{1,2}})(?:º|°|st|nd|rd|th)?\s*(?:de\s+)?{_MONTH}(?:,?\s*(?:del?\s+)?(?P<year>{_YEAR4}|\d\d){_NOT_WORD})?",
    # March 3, 2004, Nov. 9, 1999, Diciembre 10 de 1997, May 23
    rf"{_MONTH}\s*(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:\s*,?\s*(?:del?\s+)?(?P<year>{_YEAR4}){_NOT_WORD})?",
    # Julio 2000, junio de 2013
    rf"{_MONTH}\s*,?\s*(?:del?\s+)?(?P<year>{_YEAR4}){_NOT_WORD}",
    # 29.10.1996, 07/04/2009: day first, as the Spanish-language press writes them
    r"(?P<day>\d{1,2})(?P<sep>[./-])(?P<month_num>\d{1,2})(?P=sep)(?P<year>\d{4}|\d\d)(?!\d)",
    # 2011-05-25
    rf"(?P<year>{_YEAR4})-(?P<month_num>\d\d)-(?P<day>\d\d)(?!\d)",
]
_DATE_RES = [re.compile(_WEEKDAY + form, re.IGNORECASE) for form in _DATE_FORMS]
_YEAR_ONLY = re.compile(rf"{_YEAR4}")


def _from_match(match: re.Match) -> PartialDate | None:
    parts = match.groupdict()
    month: int | None
    if parts.get("month"):
        month = INFO.month(parts["month"])
    elif parts.get("month_num"):
        month = int(parts["month_num"])
    else:
        month = None
    day = int(parts["day"]) if parts.get("day") else None
    year: int | None = None
    if parts.get("year"):
        raw_year = parts["year"]
        year = INFO.convertyear(int(raw_year), century_specified=len(raw_year) == 4)
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None:
        if month is None or not 1 <= day <= 31:
            return None
        if year is not None and not _valid_day(year, month, day):
            return None
    return PartialDate(year, month, day)


def parse_date(text: str) -> PartialDate | None:
    """Parse text that is wholly a date ("18May17", "Julio 2000", "Medellín, Diciembre 10 de 1997")."""
    found = parse_date_line(text)
    return found[1] if found else None


def parse_date_line(text: str) -> tuple[str | None, PartialDate] | None:
    """A line that is wholly a date, optionally opened by its place: ``(place, date)``."""
    text = " ".join(text.split()).strip(" .;")
    if not text or len(text) > 80:
        return None
    for regex in _DATE_RES:
        match = regex.fullmatch(text)
        if match:
            when = _from_match(match)
            return (None, when) if when is not None else None
    if _YEAR_ONLY.fullmatch(text):
        return None, PartialDate(int(text))
    # A date line may open with its place: "Medellín, Diciembre 10 de 1997".
    place, sep, rest = text.partition(",")
    place = place.strip()
    if sep and rest and _PLACE_RE.fullmatch(place):
        found = parse_date_line(rest)
        if found is not None and found[0] is None:
            return place, found[1]
    return None


_SOURCE_RE = re.compile(
    r"\s*\[\s*(?P<label>Source|Sources|Fuente|Fuentes|Font|Fonte)\s*:\s*(?P<body>[^\[\]]{1,300}?)\s*\]",
    re.IGNORECASE,
)


def parse_source_line(line: str) -> SourceLine | None:
    """``[Source: name, place, date]``: name to the first comma, date after the last, place between."""
    match = _SOURCE_RE.match(line)
    if not match:
        return None
    body = match.group("body").strip()
    name, _, rest = (part.strip() for part in body.partition(","))
    place: str | None = rest or None
    when: PartialDate | None = None
    if rest:
        head, sep, tail = rest.rpartition(",")
        candidate = parse_date(tail if sep else rest)
        if candidate is not None and candidate.year is not None:
            when = candidate
            place = head.strip() if sep else None
    if not name:
        return None
    return SourceLine(name=name, place=place or None, date=when, raw=match.group(0).strip())


# Place names open a dateline: ALL CAPS ("SAN SALVADOR", "TÚNEZ") or Title Case with the small
# connecting words of place names ("Santiago de Chile", "Buenos Aires"). Bounded repeats only.
_UP = "A-ZÁÉÍÓÚÑÜÇÀÈÌÒÙÂÊÎÔÛÃÕ"
_CONNECT = r"(?:de|del|la|las|los|el|y|da|do|dos|das|di|of|upon|on|am|sur|en)"
_CAPS_PLACE = rf"[{_UP}][{_UP}'’.\-]*(?:[ ][{_UP}][{_UP}'’.\-]*){{0,4}}"
_TITLE_PLACE = rf"[{_UP}][\w'’.\-]*(?:[ ](?:{_CONNECT}[ ]){{0,2}}[{_UP}][\w'’.\-]*){{0,4}}"
_PLACE_RE = re.compile(rf"(?:{_CAPS_PLACE}|{_TITLE_PLACE})")

_DATE_ANY = "|".join(f"(?:{form})" for form in _DATE_FORMS)
_DATE_IN_DATELINE = re.sub(r"\?P<(\w+)>", "", _DATE_ANY).replace("(?P=sep)", r"[./-]")

# The place is matched case-sensitively ("(?-i:"): capitals are what mark a dateline's place.
_PLACE = (
    rf"(?-i:(?P<place>{_CAPS_PLACE}|{_TITLE_PLACE}))"
    rf"(?:\s\((?P<country>[{_UP} ]{{2,30}})\)(?=\s*,))?"
)
_SEP = r"\s*[,.]\s*"
_DATE = rf"(?P<date>{_WEEKDAY}(?:{_DATE_IN_DATELINE}))\.?"
# Wire copy mismatches its brackets ("[INRAVISION TELEVISION CADENA 1)"): accept either kind at each end.
_AGENCY = (
    r"(?:[(\[](?P<agency>[^()\[\]\n]{1,50}(?:[(\[][^()\[\]\n]{0,30}[)\]][^()\[\]\n]{0,20})?)[)\]]"
    r"|/(?P<slash_agency>[^/\n]{1,40})/)"
)
_AFTER_AGENCY = r"(?P<term>\.?\s?(?:--|-|—|–|:)|\.(?!\w))?"
_DASH = r"(?P<term>\.?\s?(?:--|-|—|–))"

# Each shape is one way a wire story opens; the first that matches wins. A dateline needs an
# agency or a dash after its date, so ordinary sentences ("In 2014 the ...") never match.
_DATELINE_SHAPES = [
    rf"\((?P<place>[^()\n]{{2,60}})\)\s*(?P<term>--|-|—|–)",  # (New York/London) -
    rf"{_PLACE}{_SEP}{_DATE}\s*{_AGENCY}\s*{_AFTER_AGENCY}",  # Lima, 07/04/2009 (CNR) --
    rf"{_PLACE}{_SEP}{_DATE}\s*{_DASH}",  # Buenos Aires, 17 de junio de 2013.-
    rf"{_PLACE}{_SEP}(?:\d{{1,2}}|NO DATE)\s*{_AGENCY}\s*{_AFTER_AGENCY}",  # MADRID, 10 (EUROPA PRESS)
    rf"{_PLACE}{_SEP}NO DATE\s*{_DASH}",  # NO CITY (PERU), NO DATE --
    rf"{_PLACE}\s*{_AGENCY}\s*{_DASH}",  # BERLIN (AP) —  (without the dash: "Buenos Aires (Argentina) es...")
]
_DATELINE_RES = [re.compile(r"\s*" + shape, re.IGNORECASE) for shape in _DATELINE_SHAPES]


def parse_dateline(line: str, reference: PartialDate | None = None) -> Dateline | None:
    """A wire dateline opening ``line`` ("MOSCOW, May 23. /TASS/.", "Santiago de Chile, 11 sep (EFE).-")."""
    head = line[:300]
    for regex in _DATELINE_RES:
        match = regex.match(head)
        if match:
            return _dateline_from(match, reference)
    return None


def _dateline_from(match: re.Match, reference: PartialDate | None) -> Dateline:
    parts = match.groupdict()
    place = parts["place"].strip()
    if parts.get("country"):
        place = f"{place} ({parts['country']})"
    agency = parts.get("agency") or parts.get("slash_agency")
    when = _parse_dateline_date(parts["date"]) if parts.get("date") else None
    if when is not None:
        when = when.with_year_from(reference)
    return Dateline(place=place, date=when, agency=agency.strip() if agency else None, raw=match.group(0).strip())


def _parse_dateline_date(text: str) -> PartialDate | None:
    text = text.strip(" .")
    for regex in _DATE_RES:
        match = regex.fullmatch(text)
        if match:
            return _from_match(match)
    return None


def parse_line(line: str) -> dict:
    """The ``archive-crawler datelines`` answer for one line of text."""
    source = parse_source_line(line)
    if source is not None:
        return {"place": source.place, "date": _iso(source.date), "agency": source.name, "raw": source.raw}
    whole = parse_date_line(line)
    if whole is not None and whole[1].year is not None:
        place, when = whole
        return {"place": place, "date": when.iso(), "agency": None, "raw": line.strip()}
    dateline = parse_dateline(line)
    if dateline is not None:
        return dateline.as_record()
    return {"place": None, "date": None, "agency": None, "raw": None}
