"""Language of a record's body text (ISO 639-1), by py3langid."""

from __future__ import annotations

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["detect_language"]

SAMPLE_CHARS = 4000


@cache
def _identifier(languages: tuple[str, ...] | None) -> LanguageIdentifier:
    # Loaded once per process and only read afterwards: safe to use from a process pool.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(list(languages))
    return identifier


def detect_language(text: str, languages: tuple[str, ...] | None = None) -> str:
    """The most likely language of ``text``, among ``languages`` when the site profile names them."""
    # The opening of a body tells its language as well as the whole does, at a bounded cost.
    language, _probability = _identifier(languages).classify(text[:SAMPLE_CHARS])
    return language
