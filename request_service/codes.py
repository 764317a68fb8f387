"""Identity numbers of applicants: 居民身份证号码 (GB 11643-1999) and 统一社会信用代码 (GB 32100-2015), with their
check characters, and the shape of Chinese phone numbers and postal codes.

The USCC check is a copy of catalog_service/codes.py: services never import each other (architecture.md).
"""

import re
from datetime import date

__all__ = ["LANDLINE", "MOBILE", "POSTAL_CODE", "normalize_id_number", "normalize_phone", "resident_id_check_char",
           "uscc_check_char"]

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"  # indexed by (Σ digit × weight) mod 11
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
# 区号 (3–4 digits starting with 0) + 7–8 digit number, optional extension (分机).
LANDLINE = re.compile(r"^0\d{2,3}-\d{7,8}(-\d{1,6})?$")
POSTAL_CODE = re.compile(r"^\d{6}$")
OTHER_DOCUMENT = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,31}$")


def resident_id_check_char(first17: str) -> str:
    return RESIDENT_ID_CHECK[sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True)) % 11]


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _resident_id(number: str) -> str:
    if len(number) != 18 or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValueError("a resident identity number is 17 digits and a check character (0-9 or X)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise ValueError("the date of birth in the resident identity number is not a date") from exc
    if born > date.today() or born.year < 1880:
        raise ValueError("the date of birth in the resident identity number is not plausible")
    if resident_id_check_char(number[:17]) != number[17]:
        raise ValueError("the check character of the resident identity number is wrong (GB 11643)")
    return number


def _uscc(number: str) -> str:
    if len(number) != 18 or any(c not in USCC_ALPHABET for c in number):
        raise ValueError("a unified social credit code is 18 characters of 0-9 and A-Y without I, O, S, V, Z")
    if uscc_check_char(number[:17]) != number[17]:
        raise ValueError("the check character of the unified social credit code is wrong (GB 32100)")
    return number


def normalize_id_number(id_type: str, raw: str) -> str:
    """Upper case without spaces; raises ValueError naming what is wrong for the document type."""
    number = "".join(raw.split()).upper()
    if id_type == "resident_id":
        return _resident_id(number)
    if id_type == "uscc":
        return _uscc(number.replace("-", ""))
    if not OTHER_DOCUMENT.match(number):
        raise ValueError("a document number is 4–32 letters, digits or hyphens")
    return number


def normalize_phone(raw: str) -> str:
    """A mainland mobile (13800138000) or a landline with area code (010-12345678, 0755-1234567-89).
    Spaces are dropped and a +86 / 0086 prefix of a mobile is removed."""
    phone = "".join(raw.split())
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix) and MOBILE.match(phone[len(prefix):].replace("-", "")):
            phone = phone[len(prefix):]
    if MOBILE.match(phone.replace("-", "")) and phone.startswith("1"):
        return phone.replace("-", "")
    if LANDLINE.match(phone):
        return phone
    raise ValueError("a phone number is a mainland mobile (1[3-9] and 9 digits) or a landline like 010-12345678")
