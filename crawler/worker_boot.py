"""Imported once by the process that worker processes are forked from (multiprocessing's forkserver,
``crawler/workers.py``): the record engine, trafilatura (its lazily built tables too), the record
schema and the language model of every site profile are loaded here, so that every worker starts
with them and the crawl's own process never loads them."""

import os

from pipelines import records, validation  # noqa: F401  (imports trafilatura, lxml, dateutil)
from pipelines.language import prepare
from pipelines.profiles import available_profiles, load_profile

# The profiles the crawl uses (crawler.workers.PROFILES_VARIABLE, set by the crawl before the
# forkserver starts); every profile when unset. Another profile still works, loaded on first use.
_names = [n for n in os.environ.get("ARCHIVE_CRAWLER_WORKER_PROFILES", "").split(",") if n] or available_profiles()
prepare([load_profile(name).languages for name in _names])
validation.load_check()  # compiles the jsonschema validator too


def _load_justext_stoplists() -> None:
    """trafilatura's justext fallback builds a 27 MB stop-word set on first use: built here, it is
    shared by every worker instead of built in each."""
    try:
        from justext.core import define_stoplist
        from trafilatura import external
    except ImportError:
        return
    stoplist = getattr(external, "JT_STOPLIST", None) or getattr(external, "jt_stoplist_init", tuple)()
    if stoplist:
        define_stoplist(stoplist)


_load_justext_stoplists()

# Everything loaded so far lives as long as the workers: out of the garbage collector's sight, so
# that collections in a worker never write to these pages and they stay shared with this process.
import gc  # noqa: E402

gc.collect()
gc.freeze()


def _return_free_memory() -> None:
    """Give the heap left over from loading (the model file is read through temporary copies) back
    to the system before workers are forked, so they do not inherit it (glibc only)."""
    import ctypes

    try:
        # The symbols already loaded in this process (libc's among them): ctypes.util.find_library
        # would run ldconfig in a subprocess.
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


_return_free_memory()
