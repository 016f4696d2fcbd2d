"""Check digits of the Russian personal and business numbers: SNILS, INN, OGRN, OGRNIP.

Each ``…_valid`` takes the number as ASCII digits only (callers strip separators first) and
says whether its length and check digits are right. The algorithms:

- SNILS (the pension fund's insurance number, 11 digits ``XXX-XXX-XXX YY``): the sum of the
  first nine digits weighted 9..1; below 100 the sum itself, 100 and 101 give 00, above that
  the remainder mod 101 (and a remainder of 100 gives 00 again). Numbers up to 001-001-998 were
  issued before the check number existed: only their format is checked. A body of nine zeros
  (``000-000-000``) was never issued and is refused whatever its check number.
- INN (tax number): 10 digits for a legal entity, one check digit (weights 2,4,10,3,5,9,4,6,8);
  12 digits for a person, two (weights 7,2,4,10,3,5,9,4,6,8 and 3,7,2,4,10,3,5,9,4,6,8); each
  the weighted sum mod 11 mod 10.
- OGRN (a legal entity's state registration number, 13 digits, starting 1 or 5): the first 12
  digits as a number mod 11 mod 10.
- OGRNIP (an individual entrepreneur's, 15 digits, starting 3): the first 14 digits mod 13,
  its last digit (mod 10). python-stdnum 2.2 omits the mod 10 and refuses valid numbers whose
  remainder is 10 to 12 (``304772025109232``), so it is not used here.
"""

from __future__ import annotations

# The last number issued before the check number was introduced (001-001-998).
SNILS_UNCHECKED_UP_TO = 1_001_998

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


# --- SNILS ----------------------------------------------------------------------------------


def snils_checksum(nine_digits: str) -> int:
    """The check number (0..99) of the first nine digits of a SNILS."""
    total = sum(int(d) * w for d, w in zip(nine_digits, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    rest = total % 101
    return 0 if rest == 100 else rest


def snils_has_check(eleven_digits: str) -> bool:
    """Whether this SNILS is newer than the check number (above 001-001-998)."""
    return int(eleven_digits[:9]) > SNILS_UNCHECKED_UP_TO


def snils_valid(value: str) -> bool:
    """Eleven ASCII digits whose check number is right (or that predate it); never a body of
    nine zeros."""
    if not _digits(value, 11) or int(value[:9]) == 0:
        return False
    if not snils_has_check(value):
        return True
    return snils_checksum(value[:9]) == int(value[9:])


def snils_with_check(nine_digits: str) -> str:
    """The full eleven digits of a SNILS whose first nine are given."""
    return nine_digits + f"{snils_checksum(nine_digits):02d}"


# --- INN ------------------------------------------------------------------------------------


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn10_check(nine_digits: str) -> str:
    return str(_weighted(nine_digits, _INN10))


def inn12_checks(ten_digits: str) -> str:
    first = str(_weighted(ten_digits, _INN11))
    second = str(_weighted(ten_digits + first, _INN12))
    return first + second


def inn10_valid(value: str) -> bool:
    """A legal entity's INN: 10 digits, the last one the check digit."""
    return _digits(value, 10) and inn10_check(value[:9]) == value[9]


def inn12_valid(value: str) -> bool:
    """A person's (or an individual entrepreneur's) INN: 12 digits, the last two check digits."""
    return _digits(value, 12) and inn12_checks(value[:10]) == value[10:]


def inn_valid(value: str) -> bool:
    return inn10_valid(value) or inn12_valid(value)


# --- OGRN and OGRNIP --------------------------------------------------------------------------


def ogrn_check(twelve_digits: str) -> str:
    return str(int(twelve_digits) % 11 % 10)


def ogrnip_check(fourteen_digits: str) -> str:
    return str(int(fourteen_digits) % 13 % 10)


def ogrn_valid(value: str) -> bool:
    """A legal entity's OGRN: 13 digits starting with 1 or 5, the last one the check digit."""
    return _digits(value, 13) and value[0] in "15" and ogrn_check(value[:12]) == value[12]


def ogrnip_valid(value: str) -> bool:
    """An individual entrepreneur's OGRNIP: 15 digits starting with 3, the last the check."""
    return _digits(value, 15) and value[0] == "3" and ogrnip_check(value[:14]) == value[14]
