"""XML from outside parsed without the XML features that attack the parser.

A trusted list is downloaded or handed over by an operator; either way it is parsed as hostile.
A document type declaration is refused outright, which refuses entity definitions with it
(billion laughs, quadratic blow-up, external entities: none of them can exist without one), and
expat is told never to read external parameter entities. Nothing is fetched while parsing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

from idp.errors import BadInput


class UnreadableSource(BadInput):
    """The input is not a trust list this module reads; nothing was imported."""


class _Forbidden(Exception):
    pass


def parse_xml(data: bytes) -> ET.Element:
    """The document's root, namespaces as ``{uri}name``; ``UnreadableSource`` for anything
    that is not well-formed XML without a DOCTYPE."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def forbid(*_: Any) -> int:
        raise _Forbidden

    def start(name: str, attributes: dict[str, str]) -> None:
        builder.start(_clark(name), {_clark(k): v for k, v in attributes.items()})

    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.UnparsedEntityDeclHandler = forbid
    parser.ExternalEntityRefHandler = forbid
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _Forbidden:
        raise UnreadableSource("XML with a DOCTYPE or entities is refused") from None
    except expat.ExpatError as exc:
        raise UnreadableSource(f"not well-formed XML ({expat.ErrorString(exc.code)})") from None
    root = builder.close()
    return root


def _clark(name: str) -> str:
    return "{" + name if "}" in name else name


def local(tag: str) -> str:
    """The element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element | None, name: str) -> list[ET.Element]:
    """The direct children named ``name`` (in any namespace); none of a missing element."""
    if element is None:
        return []
    return [child for child in element if local(child.tag) == name]


def child(element: ET.Element | None, *path: str) -> ET.Element | None:
    """The first element along ``path`` of direct children, by local name."""
    for name in path:
        if element is None:
            return None
        found = children(element, name)
        element = found[0] if found else None
    return element


def text(element: ET.Element | None, *path: str) -> str | None:
    found = child(element, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None
