"""Imported once by the process that worker processes are forked from (multiprocessing's forkserver,
``crawler/workers.py``): the record engine, trafilatura, the record schema and the language model of
every site profile are loaded here, so that every worker starts with them and the crawl's own
process never loads them."""

from pipelines import records, validation  # noqa: F401  (imports trafilatura, lxml, dateutil)
from pipelines.language import prepare
from pipelines.profiles import available_profiles, load_profile

for _name in available_profiles():
    prepare(load_profile(_name).languages)
validation.load_validator()
