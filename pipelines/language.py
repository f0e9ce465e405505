"""Language of a record's body text (ISO 639-1), by py3langid."""

from __future__ import annotations

import copy
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["detect_language", "load_model", "prepare"]

# The opening of a body tells its language as well as the whole does, at a bounded cost: on 400
# trafilatura-eval pages and the 84 gold records of the mock archives, 2,000 characters give the
# language 4,000 give on every page, in a third of the time (py3langid reads text byte by byte).
SAMPLE_CHARS = 2000


@cache
def load_model() -> LanguageIdentifier:
    """The model, read from its file once per process (about 0.5 s): worker processes get it
    already loaded from the process they are forked from (``crawler/worker_boot.py``)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def _identifier(languages: tuple[str, ...] | None) -> LanguageIdentifier:
    # Only read afterwards: safe to use from a process pool. A shallow copy shares the full model;
    # set_languages gives it its own (small) arrays for the subset.
    if not languages:
        return load_model()
    identifier = copy.copy(load_model())
    identifier.set_languages(list(languages))
    return identifier


def prepare(languages: tuple[str, ...] | None) -> None:
    """Load what ``detect_language`` needs for these languages now rather than at the first page."""
    _identifier(languages)


def detect_language(text: str, languages: tuple[str, ...] | None = None) -> str:
    """The most likely language of ``text``, among ``languages`` when the site profile names them."""
    language, _probability = _identifier(languages).classify(text[:SAMPLE_CHARS])
    return language
