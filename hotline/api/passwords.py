"""Password hashing with argon2. Rule: only this module imports argon2, and a password is
only ever stored as its argon2id hash."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hotline.core.errors import InvalidInput

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"密码至少 {MIN_LENGTH} 个字符 (the password needs at least {MIN_LENGTH} characters; "
            "choose a longer one)",
            error_id="password_too_short",
        )
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


DUMMY_HASH = _hasher.hash("hotline-no-such-user")
"""Verified against when the user does not exist, so a wrong name costs as long as a wrong
password and the timing does not tell which names exist."""
