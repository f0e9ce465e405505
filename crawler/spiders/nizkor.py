"""Equipo Nizkor / Derechos Human Rights (derechos.org), or any copy of it laid out the same way."""

from .base import ArchiveSpider


class NizkorSpider(ArchiveSpider):
    name = "nizkor"
    profile_name = "derechos.org"
