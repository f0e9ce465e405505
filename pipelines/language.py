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
    # Only read afterwards: safe to use from a process pool. The subset's identifier is built with
    # its own small arrays and shares the tokenizer tables with the full model, so that the full
    # model's 28 MB of per-language weights can be let go when no profile needs every language.
    full = load_model()
    if not languages:
        return full
    subset = copy.copy(full)
    subset.set_languages(list(languages))
    return LanguageIdentifier(subset.nb_ptc, subset.nb_pc, subset.nb_classes, full.tk_nextmove, full.tk_output,
                              norm_probs=True, tk_row=full.tk_row)


def prepare(profiles_languages: list[tuple[str, ...] | None]) -> None:
    """Load what ``detect_language`` needs for these profiles' languages now rather than at the
    first page; keep the full model only if one of them needs every language (it is loaded again
    on demand otherwise)."""
    for languages in profiles_languages:
        _identifier(languages)
    if all(profiles_languages):
        load_model.cache_clear()


def detect_language(text: str, languages: tuple[str, ...] | None = None) -> str:
    """The most likely language of ``text``, among ``languages`` when the site profile names them."""
    identifier, sample = _identifier(languages), text[:SAMPLE_CHARS]
    language, _probability = identifier.classify(sample)
    if len(language) == 2:
        return language
    # The full model also knows languages with no ISO 639-1 code ("pcm"): the record's field is a
    # two-letter code, so the likeliest language that has one.
    return next((code for code, _ in identifier.rank(sample) if len(code) == 2), "und")
