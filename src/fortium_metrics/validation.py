"""Small validators shared by services; each raises Invalid naming the field."""
from __future__ import annotations

import re

from .errors import Invalid

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
EMAIL_RE = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+|localhost)$")  # @localhost: the embedded single user


def _space_class() -> str:
    """The characters str.strip() removes and re's \\s matches, as a character class body of
    \\uXXXX ranges that every regex dialect reads the same way (for schemas; see web/admin_api)."""
    codes = [c for c in range(0x3001) if chr(c).isspace()]  # none beyond U+3000
    ranges, start = [], codes[0]
    for previous, code in zip(codes, codes[1:] + [None]):
        if code != previous + 1:
            ranges.append(f"\\u{start:04x}" + (f"-\\u{previous:04x}" if previous != start else ""))
            start = code
    return "".join(ranges)


SPACE_CLASS = _space_class()


def slug(value: str, field: str = "slug") -> str:
    value = (value or "").strip().lower()
    if not SLUG_RE.match(value):
        raise Invalid(f"{field}: use 2-64 lowercase letters, digits and inner hyphens (got {value!r})", field=field)
    return value


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64] or "x"


def default_slug(name: str) -> str:
    """A valid slug for any name: cut to length before the trailing hyphens go, and padded to two
    characters ("0" was a 422 for a name the API documents as valid)."""
    return slugify(name)[:64].rstrip("-").ljust(2, "x")


def email(value: str, field: str = "email") -> str:
    value = (value or "").strip()
    if len(value) > 320 or not EMAIL_RE.match(value):
        raise Invalid(f"{field}: not a valid e-mail address (got {value!r})", field=field)
    return value.lower()


def one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise Invalid(f"{field}: must be one of {', '.join(allowed)} (got {value!r})", field=field)
    return value


def non_empty(value: str, field: str, max_length: int = 200) -> str:
    value = (value or "").strip()
    if not value or len(value) > max_length:
        raise Invalid(f"{field}: must be 1-{max_length} characters", field=field)
    return value
