"""ETSI TS 119 612 trusted lists (the EU member states' lists and lists in the same format).

``TrustServiceStatusList/TrustServiceProviderList/TrustServiceProvider/TSPServices/TSPService``:
each service's ``ServiceInformation`` names its type, status and the time that status began, and
its certificates (``ServiceDigitalIdentity/DigitalId/X509Certificate``); ``ServiceHistory`` holds
the earlier statuses. Only CA/QC services (CAs issuing qualified certificates, TS 119 612
§5.5.1.1) are read. A service trusted now is accredited from the start of its unbroken run of
granted statuses (§5.5.4; the pre-2016 statuses ``undersupervision``, ``accredited``,
``supervisionincessation`` count as granted); one whose status is withdrawn (or another
non-granted status) is listed withdrawn, with the window it was granted in. A service whose
``AdditionalServiceInformation`` names what it is for (``ForeSignatures``, ``ForeSeals``,
``ForWebSiteAuthentication``) without e-signatures is refused with that reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime

from idp.signatures.trust.listed import ListedCA, decode_base64, parse_time
from idp.signatures.trust.xmlsafe import child, children, text

CA_QC = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC"
STATUS_PREFIX = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/"
GRANTED = frozenset(
    STATUS_PREFIX + s
    for s in (
        "granted",
        "recognisedatnationallevel",
        "undersupervision",
        "accredited",
        "supervisionincessation",
        "setbynationallaw",
    )
)

Status = tuple[str, datetime | None]  # status URI, when it began

# TS 119 612 §5.5.9.4 AdditionalServiceInformation: what a CA/QC service issues qualified
# certificates for. A service that names these usages but not e-signatures issues seal or
# website certificates: its CAs must not anchor a person's signature.
SVC_INFO_EXT = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/"
FOR_ESIGNATURES = SVC_INFO_EXT + "ForeSignatures"
USAGES = frozenset(
    SVC_INFO_EXT + usage for usage in ("ForeSignatures", "ForeSeals", "ForWebSiteAuthentication")
)


def listed_cas(root: ET.Element) -> Iterator[ListedCA]:
    providers = child(root, "TrustServiceProviderList")
    for provider in children(providers, "TrustServiceProvider"):
        provider_name = _name(child(provider, "TSPInformation", "TSPName"))
        services = child(provider, "TSPServices")
        for service in children(services, "TSPService"):
            yield from _service(service, provider_name)


def _service(service: ET.Element, provider_name: str | None) -> Iterator[ListedCA]:
    info = child(service, "ServiceInformation")
    if info is None or text(info, "ServiceTypeIdentifier") != CA_QC:
        return
    current = _status(info)
    past = child(service, "ServiceHistory")
    history = [
        _status(instance)
        for instance in children(past, "ServiceHistoryInstance")
        if text(instance, "ServiceTypeIdentifier") in (None, CA_QC)
    ]
    accredited_from, accredited_until, withdrawn = window(current, history)
    name = _name(child(info, "ServiceName")) or provider_name
    refusal = usage_refusal(info)
    identity = child(info, "ServiceDigitalIdentity")
    for digital_id in children(identity, "DigitalId"):
        for element in children(digital_id, "X509Certificate"):
            der = decode_base64(element.text)
            if der is not None:
                yield ListedCA(der, name, accredited_from, accredited_until, withdrawn, refusal)


def usage_refusal(info: ET.Element) -> str | None:
    """Why the service is not for e-signatures, or None: it names usages in its
    AdditionalServiceInformation and ForeSignatures is not one (no usage named: for
    everything, e-signatures included)."""
    extensions = child(info, "ServiceInformationExtensions")
    usages = {
        text(additional, "URI")
        for extension in children(extensions, "Extension")
        for additional in children(extension, "AdditionalServiceInformation")
    } & USAGES
    if not usages or FOR_ESIGNATURES in usages:
        return None
    named = ", ".join(sorted(u.removeprefix(SVC_INFO_EXT) for u in usages if u))
    return f"not for e-signatures (AdditionalServiceInformation: {named})"


def window(current: Status, history: list[Status]) -> tuple[datetime | None, datetime | None, bool]:
    """(accredited_from, accredited_until, withdrawn) from the current status and the earlier
    ones (any order)."""
    dated = [(status, began) for status, began in history if began is not None]
    earlier = sorted(dated, key=lambda s: s[1], reverse=True)
    if current[0] in GRANTED:
        start = current[1]
        for status, began in earlier:
            if status not in GRANTED:
                break
            start = began
        return start, None, False
    # Withdrawn now: the last granted run, if any, ended when this status began.
    run_start: datetime | None = None
    for status, began in earlier:
        if status in GRANTED:
            run_start = began
        elif run_start is not None:
            break
    if run_start is None:
        return None, None, True
    return run_start, current[1], True


def _status(element: ET.Element) -> Status:
    return (text(element, "ServiceStatus") or "", parse_time(text(element, "StatusStartingTime")))


def _name(names: ET.Element | None) -> str | None:
    """The English name if there is one, else the first."""
    if names is None:
        return None
    found = children(names, "Name")
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for element in found:
        if (element.get(lang) or "").lower() == "en" and element.text:
            return element.text.strip()
    return found[0].text.strip() if found and found[0].text else None
