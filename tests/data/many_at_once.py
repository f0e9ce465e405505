"""A spider that asks for many pages of one host at once, robots.txt unread: the case where Scrapy
2.19's RobotsTxtMiddleware lets every waiter but the first through (see crawler/robots.py).

    scrapy runspider tests/data/many_at_once.py -a base=http://127.0.0.1:PORT -a paths=/a.html,/b.html -O out.jsonl
"""

import scrapy


class ManyAtOnce(scrapy.Spider):
    name = "many_at_once"

    def __init__(self, base: str, paths: str, **kwargs):
        super().__init__(**kwargs)
        self.base, self.paths = base, paths.split(",")

    async def start(self):
        for path in self.paths:
            yield scrapy.Request(self.base + path, callback=self.parse, dont_filter=True)

    def parse(self, response):
        yield {"url": response.url, "status": response.status}
