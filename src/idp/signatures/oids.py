"""The object identifiers that verification, the profiles and the development kit share, each
named once."""

# X.520 name attributes.
COMMON_NAME = "2.5.4.3"
SURNAME = "2.5.4.4"
COUNTRY = "2.5.4.6"
ORGANIZATION = "2.5.4.10"
GIVEN_NAME = "2.5.4.42"

# The Russian qualified certificate (FSB order 795 as amended by order 31 of 2021).
OGRN = "1.2.643.100.1"
SNILS = "1.2.643.100.3"
INNLE = "1.2.643.100.4"  # a legal entity's INN, 10 digits
OGRNIP = "1.2.643.100.5"
INN = "1.2.643.3.131.1.1"  # a person's INN, 12 digits
SUBJECT_SIGN_TOOL = "1.2.643.100.111"
ISSUER_SIGN_TOOL = "1.2.643.100.112"

# eIDAS qualified certificate statements (ETSI EN 319 412-5, -1).
QC_STATEMENTS = "1.3.6.1.5.5.7.1.3"
QC_COMPLIANCE = "0.4.0.1862.1.1"
QC_SSCD = "0.4.0.1862.1.4"
QC_TYPE = "0.4.0.1862.1.6"
PKIX_QC_SYNTAX_V2 = "1.3.6.1.5.5.7.11.2"
SEMANTICS_NATURAL = "0.4.0.194121.1.1"

# GOST R 34.10-2012 keys and signatures, GOST R 34.11-2012 (Streebog) digests (RFC 9215).
KEY_256 = "1.2.643.7.1.1.1.1"
KEY_512 = "1.2.643.7.1.1.1.2"
STREEBOG_256 = "1.2.643.7.1.1.2.2"
STREEBOG_512 = "1.2.643.7.1.1.2.3"
SIGN_256 = "1.2.643.7.1.1.3.2"
SIGN_512 = "1.2.643.7.1.1.3.3"

# Others.
SHA256 = "2.16.840.1.101.3.4.2.1"
RSA_PSS = "1.2.840.113549.1.1.10"
