"""Password policy and hashing (OWASP ASVS 4.0 V2.1, V2.4).

Hashes are argon2id with OWASP's current minimum (m=19 MiB, t=2, p=1). Hashes made with
other parameters, and werkzeug's older scrypt/pbkdf2 hashes, still verify and are replaced
on the next successful login (``needs_rehash``).

The list of common passwords is Django's ``common-passwords.txt.gz`` (20,000 entries
drawn from breach corpora, BSD licence, see placement/data/README.md)."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from placement.services.errors import Code, RuleViolation

MIN_LENGTH = 12
MAX_LENGTH = 128  # long enough for passphrases, short enough to keep hashing cheap
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "common-passwords.txt.gz"

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lower-cased."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def check_policy(password: str, email: str = "", field: str = "password") -> None:
    """Raise a RuleViolation naming ``field`` unless ``password`` may be used by ``email``:
    at least 12 and at most 128 characters, not a common password, not containing the
    e-mail address or its local part. No composition rules (ASVS 2.1.9)."""
    if len(password) < MIN_LENGTH:
        raise RuleViolation(Code.PASSWORD_TOO_SHORT, field, min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise RuleViolation(Code.PASSWORD_TOO_LONG, field, max=MAX_LENGTH)
    lowered = password.lower()
    # Spaces and separators do not make a common password uncommon ("pass word 123").
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    common = common_passwords()
    if lowered in common or lowered.strip() in common or squeezed in common:
        raise RuleViolation(Code.PASSWORD_TOO_COMMON, field)
    local_part = email.strip().lower().partition("@")[0]
    if len(local_part) >= 3 and local_part in lowered:
        raise RuleViolation(Code.PASSWORD_CONTAINS_EMAIL, field)
    if email and email.strip().lower() in lowered:
        raise RuleViolation(Code.PASSWORD_CONTAINS_EMAIL, field)


def hash_password(password: str) -> str:
    """An argon2id hash with the current parameters."""
    return HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (argon2 or werkzeug format)."""
    if password_hash.startswith("$argon2"):
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        return check_password_hash(password_hash, password)
    except ValueError:
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for hashes not made by argon2id with the current parameters."""
    if not password_hash.startswith("$argon2id$"):
        return True
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return HASHER.hash("no account has this password: the timing is the same")


def verify_dummy(password: str) -> None:
    """Spend the time of one verification, for unknown accounts (no timing oracle)."""
    verify(_dummy_hash(), password)
