"""The Russian list of accredited CAs (Минцифры, e-trust.gosuslugi.ru ``DownloadTSL``).

``АккредитованныеУдостоверяющиеЦентры/УдостоверяющийЦентр``: the CA's ``Название``, its
accreditation (``СтатусАккредитации/{Статус, ДействуетС, ДействуетДо}``, earlier ones in
``ИсторияСтатусовАккредитации``) and the certificates of its authorised persons' keys
(``ПрограммноАппаратныеКомплексы/ПрограммноАппаратныйКомплекс/КлючиУполномоченныхЛиц/Ключ/
Сертификаты/ДанныеСертификата/Данные``, base64 DER). A CA whose status is ``Действует`` is
accredited from the start of that status (and of the unbroken ``Действует`` statuses before
it) until ``ДействуетДо`` when given; any other status (``Прекращена``, ``Аннулирована``,
``Приостановлена``) lists its certificates withdrawn. Times without an offset are Moscow time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

from idp.signatures.trust.listed import MOSCOW, ListedCA, decode_base64, parse_time
from idp.signatures.trust.xmlsafe import child, children, text

ACTIVE = "Действует"

Status = tuple[str, datetime | None, datetime | None]  # status, from, until


def listed_cas(root: ET.Element) -> Iterator[ListedCA]:
    for ca in children(root, "УдостоверяющийЦентр"):
        name = text(ca, "Название") or text(ca, "КраткоеНазвание")
        accredited_from, accredited_until, withdrawn = _accreditation(ca)
        for der in _certificates(ca):
            yield ListedCA(der, name, accredited_from, accredited_until, withdrawn)


def _accreditation(ca: ET.Element) -> tuple[datetime | None, datetime | None, bool]:
    current = _status(child(ca, "СтатусАккредитации"))
    if current is None:  # a list without statuses: every CA in it is accredited
        return None, None, False
    history = child(ca, "ИсторияСтатусовАккредитации")
    earlier = sorted(
        (
            s
            for s in (_status(e) for e in children(history, "СтатусАккредитации"))
            if s is not None and s[1] is not None and s[1] != current[1]
        )
        if history is not None
        else [],
        key=_began,
        reverse=True,
    )
    if current[0] == ACTIVE:
        start = current[1]
        for status, began, _ in earlier:
            if status != ACTIVE:
                break
            start = began
        return start, current[2], False
    last_active = next((s for s in earlier if s[0] == ACTIVE), None)
    if last_active is None:
        return None, None, True
    return last_active[1], last_active[2] or current[1], True


def _began(status: Status) -> datetime:
    assert status[1] is not None
    return status[1]


def _status(element: ET.Element | None) -> Status | None:
    if element is None:
        return None
    status = text(element, "Статус")
    if status is None:
        return None
    return (
        status,
        parse_time(text(element, "ДействуетС"), naive_zone=MOSCOW),
        parse_time(text(element, "ДействуетДо"), naive_zone=MOSCOW),
    )


def _certificates(ca: ET.Element) -> Iterator[bytes]:
    complexes = child(ca, "ПрограммноАппаратныеКомплексы")
    for complex_ in children(complexes, "ПрограммноАппаратныйКомплекс"):
        keys = child(complex_, "КлючиУполномоченныхЛиц")
        for key in children(keys, "Ключ"):
            certificates = child(key, "Сертификаты")
            for data in children(certificates, "ДанныеСертификата"):
                der = decode_base64(text(data, "Данные"))
                if der is not None:
                    yield der
