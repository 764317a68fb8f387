"""Organisation codes: 统一社会信用代码 (GB 32100-2015, 18 chars) and 组织机构代码 (GB 11714, 9 chars)."""

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def normalize_organ_code(raw: str) -> str:
    """Upper-cased code without the legacy hyphen; raises ValueError naming what is wrong."""
    code = raw.strip().upper().replace("-", "")
    if len(code) == 18:
        if any(c not in USCC_ALPHABET for c in code):
            raise ValueError("a unified social credit code uses only 0-9 and A-Y without I, O, S, V, Z")
        if uscc_check_char(code[:17]) != code[17]:
            raise ValueError("the check character of the unified social credit code is wrong (GB 32100)")
        return code
    if len(code) == 9:
        if not code[:8].isalnum() or not code.isascii():
            raise ValueError("an organisation code is 8 digits or capital letters and a check character")
        if org_code_check_char(code[:8]) != code[8]:
            raise ValueError("the check character of the organisation code is wrong (GB 11714)")
        return code
    raise ValueError("an organ code is an 18-character unified social credit code or a 9-character organisation code")
