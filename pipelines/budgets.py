"""What one page may cost the record engine, defined once (the crawl's settings default to these).

A page over a budget is skipped with a reason before extraction (``PageSkipped``): every later step
is linear in the page's size, but a page of 60 MB or of 200,000 elements is not an article.
"""

# Characters of a decoded page: five times the largest of the 1,174 pages of trafilatura-eval and AEB (1.6 MB).
MAX_BYTES = 8 * 1024 * 1024
# Elements of its parsed tree: ten times the largest of those pages (about 10,000).
MAX_ELEMENTS = 100_000
