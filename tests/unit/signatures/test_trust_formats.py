"""Reading trust lists: certificate files, ETSI TS 119 612, the Russian accredited-CA list, and
hostile or wrong input. The builders here make fixtures shaped like the real lists; the
integration tests of the trust list reuse them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.signatures.trust.formats import fingerprint, parse, read_path
from idp.signatures.trust.xmlsafe import UnreadableSource

TSL_NS = "http://uri.etsi.org/02231/v2#"
GRANTED = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted"
WITHDRAWN = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/withdrawn"
CA_QC = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC"


def make_certificate(name: str, *, ca: bool | None = True) -> bytes:
    """A self-signed certificate; ``ca``: basicConstraints cA (None: no basicConstraints)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test CA Ltd"),
        ]
    )
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def tsl_service(
    der: bytes,
    name: str,
    status: str,
    since: str,
    history: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> str:
    past = "".join(
        f"<ServiceHistoryInstance><ServiceTypeIdentifier>{CA_QC}</ServiceTypeIdentifier>"
        f"<ServiceName><Name xml:lang='en'>{name}</Name></ServiceName>"
        f"<ServiceDigitalIdentity><DigitalId><X509Certificate>{b64(der)}</X509Certificate>"
        f"</DigitalId></ServiceDigitalIdentity><ServiceStatus>{s}</ServiceStatus>"
        f"<StatusStartingTime>{t}</StatusStartingTime></ServiceHistoryInstance>"
        for s, t in history
    )
    return (
        "<TSPService><ServiceInformation>"
        f"<ServiceTypeIdentifier>{CA_QC}</ServiceTypeIdentifier>"
        f"<ServiceName><Name xml:lang='de'>Dienst</Name><Name xml:lang='en'>{name}</Name>"
        "</ServiceName>"
        f"<ServiceDigitalIdentity><DigitalId><X509Certificate>\n{b64(der)}\n</X509Certificate>"
        "</DigitalId></ServiceDigitalIdentity>"
        f"<ServiceStatus>{status}</ServiceStatus>"
        f"<StatusStartingTime>{since}</StatusStartingTime>"
        "</ServiceInformation>"
        + (f"<ServiceHistory>{past}</ServiceHistory>" if past else "")
        + "</TSPService>"
    )


def make_tsl(*services: str, other: str = "") -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<tsl:TrustServiceStatusList xmlns:tsl='{TSL_NS}' "
        "xmlns:ds='http://www.w3.org/2000/09/xmldsig#' TSLTag='http://uri.etsi.org/19612/TSLTag'>"
        "<tsl:SchemeInformation><tsl:TSLVersionIdentifier>5</tsl:TSLVersionIdentifier>"
        "</tsl:SchemeInformation><tsl:TrustServiceProviderList><tsl:TrustServiceProvider>"
        "<tsl:TSPInformation><tsl:TSPName><tsl:Name xml:lang='en'>Test TSP</tsl:Name>"
        "</tsl:TSPName></tsl:TSPInformation><tsl:TSPServices>"
        + "".join(s.replace("<", "<tsl:").replace("<tsl:/", "</tsl:") for s in services)
        + other
        + "</tsl:TSPServices></tsl:TrustServiceProvider></tsl:TrustServiceProviderList>"
        "<ds:Signature/></tsl:TrustServiceStatusList>"
    ).encode()


def ru_ca(
    name: str,
    ders: list[bytes],
    status: str = "Действует",
    since: str = "2021-07-01T10:00:00",
    history: str = "",
) -> str:
    certificates = "".join(
        "<ДанныеСертификата><Отпечаток>00</Отпечаток><КемВыдан>x</КемВыдан>"
        "<КомуВыдан>x</КомуВыдан><СерийныйНомер>01</СерийныйНомер>"
        "<ПериодДействияС>2021-01-01T00:00:00</ПериодДействияС>"
        "<ПериодДействияДо>2036-01-01T00:00:00</ПериодДействияДо>"
        f"<Данные>{b64(der)}</Данные></ДанныеСертификата>"
        for der in ders
    )
    return (
        f"<УдостоверяющийЦентр><Название>{name}</Название>"
        "<ЭлектроннаяПочта>ca@example.ru</ЭлектроннаяПочта>"
        f"<КраткоеНазвание>{name[:10]}</КраткоеНазвание>"
        "<ИНН>7777244350</ИНН><ОГРН>1027703807075</ОГРН><РеестровыйНомер>999</РеестровыйНомер>"
        f"<СтатусАккредитации><Статус>{status}</Статус><ДействуетС>{since}</ДействуетС>"
        "</СтатусАккредитации>"
        + (
            f"<ИсторияСтатусовАккредитации>{history}</ИсторияСтатусовАккредитации>"
            if history
            else ""
        )
        + "<ПрограммноАппаратныеКомплексы><ПрограммноАппаратныйКомплекс>"
        "<Псевдоним>pak</Псевдоним><КлючиУполномоченныхЛиц><Ключ>"
        "<ИдентификаторКлюча>ab</ИдентификаторКлюча>"
        "<АдресаСписковОтзыва><Адрес>http://crl.example.ru/ca.crl</Адрес></АдресаСписковОтзыва>"
        f"<Сертификаты>{certificates}</Сертификаты></Ключ></КлючиУполномоченныхЛиц>"
        "</ПрограммноАппаратныйКомплекс></ПрограммноАппаратныеКомплексы></УдостоверяющийЦентр>"
    )


def make_ru_list(*cas: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='UTF-8'?><АккредитованныеУдостоверяющиеЦентры>"
        "<Версия>1</Версия><Дата>2024-01-01T00:00:00</Дата>"
        + "".join(cas)
        + "</АккредитованныеУдостоверяющиеЦентры>"
    ).encode()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_pem_file_with_several_certificates_and_a_der_file() -> None:
    one, two = make_certificate("Root One"), make_certificate("Root Two")
    parsed = parse(pem(one) + b"\n" + pem(two))
    assert parsed.kind == "certificates"
    assert [e.fingerprint for e in parsed.entries] == [fingerprint(one), fingerprint(two)]
    assert parsed.entries[0].name == "Root One"
    assert parsed.entries[0].subject == "O=Test CA Ltd,CN=Root One"
    assert parse(one).entries[0].certificate == one


def test_a_directory_of_certificates(tmp_path: Path) -> None:
    ders = [make_certificate(f"CA {i}") for i in range(3)]
    (tmp_path / "a.pem").write_bytes(pem(ders[0]))
    (tmp_path / "b.CER").write_bytes(ders[1])
    (tmp_path / "c.der").write_bytes(ders[2])
    (tmp_path / "d.crt").write_bytes(b"garbage")
    (tmp_path / "notes.txt").write_bytes(b"ignored")
    parsed = read_path(tmp_path)
    assert {e.fingerprint for e in parsed.entries} == {fingerprint(d) for d in ders}
    assert [(r.label, r.reason) for r in parsed.refused] == [
        ("d.crt", "neither certificates nor a trusted list")
    ]


def test_certificates_that_are_not_a_cas_are_refused_with_the_reason() -> None:
    leaf, bare = make_certificate("Leaf", ca=False), make_certificate("Bare", ca=None)
    parsed = parse(pem(leaf) + pem(bare) + pem(make_certificate("Root")))
    assert [e.name for e in parsed.entries] == ["Root"]
    assert [r.reason for r in parsed.refused] == [
        "not a CA certificate (basicConstraints cA is false)",
        "not a CA certificate (no basicConstraints)",
    ]
    # The label is the fingerprint, never the subject (a person's certificate names a person).
    assert parsed.refused[0].label == fingerprint(leaf)[:16]


def test_an_etsi_trusted_list_with_its_status_history() -> None:
    now_granted, withdrawn, old = (make_certificate(n) for n in ("Granted", "Gone", "Legacy"))
    tsl = make_tsl(
        tsl_service(
            now_granted,
            "Granted CA",
            GRANTED,
            "2020-06-01T00:00:00Z",
            [
                (
                    "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/accredited",
                    "2015-01-01T00:00:00Z",
                ),
                (WITHDRAWN, "2012-01-01T00:00:00Z"),
            ],
        ),
        tsl_service(
            withdrawn,
            "Gone CA",
            WITHDRAWN,
            "2023-03-01T00:00:00Z",
            [(GRANTED, "2019-01-01T00:00:00Z")],
        ),
        tsl_service(old, "Never granted", WITHDRAWN, "2019-01-01T00:00:00Z"),
        other=tsl_service(
            make_certificate("TSA"), "A timestamping service", GRANTED, "2020-01-01T00:00:00Z"
        ).replace(CA_QC, "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST"),
    )
    parsed = parse(tsl)
    assert parsed.kind == "etsi-tsl"
    by_name = {e.name: e for e in parsed.entries}
    assert set(by_name) == {"Granted CA", "Gone CA", "Never granted"}  # the TSA is no CA/QC
    granted = by_name["Granted CA"]
    assert (granted.accredited_from, granted.accredited_until, granted.withdrawn) == (
        at("2015-01-01T00:00:00+00:00"),
        None,
        False,
    )
    gone = by_name["Gone CA"]
    assert (gone.accredited_from, gone.accredited_until, gone.withdrawn) == (
        at("2019-01-01T00:00:00+00:00"),
        at("2023-03-01T00:00:00+00:00"),
        True,
    )
    assert by_name["Never granted"].withdrawn
    assert by_name["Never granted"].accredited_from is None


def test_the_russian_accredited_ca_list() -> None:
    active, second, ended = (make_certificate(n) for n in ("UC1", "UC1 bis", "UC2"))
    history = (
        "<СтатусАккредитации><Статус>Действует</Статус><ДействуетС>2019-01-01T00:00:00+03:00"
        "</ДействуетС></СтатусАккредитации>"
    )
    data = make_ru_list(
        ru_ca('ООО "Удостоверяющий центр"', [active, second]),
        ru_ca(
            'АО "Закрытый УЦ"',
            [ended],
            status="Прекращена",
            since="2022-05-01T00:00:00",
            history=history,
        ),
    )
    parsed = parse(data)
    assert parsed.kind == "ru-accredited"
    by_fp = {e.fingerprint: e for e in parsed.entries}
    one = by_fp[fingerprint(active)]
    assert one.name == 'ООО "Удостоверяющий центр"'
    assert one.accredited_from == at("2021-07-01T07:00:00+00:00")  # Moscow time, no offset
    assert (one.accredited_until, one.withdrawn) == (None, False)
    assert by_fp[fingerprint(second)].name == one.name
    gone = by_fp[fingerprint(ended)]
    assert gone.withdrawn
    assert (gone.accredited_from, gone.accredited_until) == (
        at("2018-12-31T21:00:00+00:00"),
        at("2022-04-30T21:00:00+00:00"),
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 "
            b"'&lol;&lol;&lol;'>]><TrustServiceStatusList>&lol2;</TrustServiceStatusList>",
            "XML with a DOCTYPE or entities is refused",
        ),
        (
            b"<!DOCTYPE x SYSTEM 'http://127.0.0.1:1/evil.dtd'><TrustServiceStatusList/>",
            "XML with a DOCTYPE or entities is refused",
        ),
        (
            "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>"
            "<АккредитованныеУдостоверяющиеЦентры>&xxe;</АккредитованныеУдостоверяющиеЦентры>".encode(),
            "XML with a DOCTYPE or entities is refused",
        ),
        (b"<TrustServiceStatusList>&undefined;</TrustServiceStatusList>", "not well-formed XML"),
        (b"<TrustServiceStatusList><open></TrustServiceStatusList>", "not well-formed XML"),
        (b"<html><body>Not found</body></html>", "an XML document of an unknown kind (html)"),
        (b"\x00\x01garbage", "neither certificates nor a trusted list"),
        (b"", "neither certificates nor a trusted list"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM"),
    ],
)
def test_hostile_or_unknown_input_is_refused_in_one_line(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableSource) as caught:
        parse(data)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_garbage_der_is_refused_as_an_entry_not_an_exception() -> None:
    parsed = parse(b"\x30\x03\x02\x01\x01")
    assert parsed.entries == ()
    assert [r.reason for r in parsed.refused] == ["not a DER X.509 certificate"]


def test_bad_base64_and_missing_parts_of_a_list_are_skipped() -> None:
    good = make_certificate("Good")
    empty = "<УдостоверяющийЦентр><Название>Empty</Название></УдостоверяющийЦентр>"
    assert parse(make_ru_list(empty)).entries == ()
    broken = ru_ca("UC broken", [good]).replace(b64(good), "!!!not base64")
    parsed = parse(make_ru_list(broken, ru_ca("UC ok", [good])))
    assert [(e.name, e.fingerprint) for e in parsed.entries] == [("UC ok", fingerprint(good))]


def test_an_unreadable_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableSource, match="No such file"):
        read_path(tmp_path / "missing.xml")
    with pytest.raises(UnreadableSource, match=r"no \.pem/\.crt/\.cer/\.der files"):
        read_path(tmp_path)


def for_usages(service: str, *usages: str) -> str:
    """``service`` with an AdditionalServiceInformation extension naming ``usages``."""
    extensions = "".join(
        "<Extension Critical='true'><AdditionalServiceInformation>"
        f"<URI xml:lang='en'>http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/{u}</URI>"
        "</AdditionalServiceInformation></Extension>"
        for u in usages
    )
    return service.replace(
        "</ServiceInformation>",
        f"<ServiceInformationExtensions>{extensions}</ServiceInformationExtensions>"
        "</ServiceInformation>",
        1,
    )


def test_an_etsi_service_for_seals_or_websites_only_is_refused() -> None:
    since = "2020-06-01T00:00:00Z"
    ders = {name: make_certificate(name) for name in ("Sig", "Seal", "Web", "Both", "Any")}
    tsl = make_tsl(
        for_usages(tsl_service(ders["Sig"], "Sig", GRANTED, since), "ForeSignatures"),
        for_usages(tsl_service(ders["Seal"], "Seal", GRANTED, since), "ForeSeals"),
        for_usages(tsl_service(ders["Web"], "Web", GRANTED, since), "ForWebSiteAuthentication"),
        for_usages(
            tsl_service(ders["Both"], "Both", GRANTED, since), "ForeSeals", "ForeSignatures"
        ),
        tsl_service(ders["Any"], "Any", GRANTED, since),  # no usage named: as before
    )
    parsed = parse(tsl)
    assert {e.name for e in parsed.entries} == {"Sig", "Both", "Any"}
    assert {(r.label, r.reason) for r in parsed.refused} == {
        ("Seal", "not for e-signatures (AdditionalServiceInformation: ForeSeals)"),
        (
            "Web",
            "not for e-signatures (AdditionalServiceInformation: ForWebSiteAuthentication)",
        ),
    }
