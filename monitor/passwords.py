"""Salted password hashes for http.auth: scrypt from the standard library, compared in constant time.

The config holds only "scrypt$N$r$p$salt$hash" (salt and hash in base64), made by `monitor
hash-password`; the password itself is never stored, printed or logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

# scrypt's work factors: 2^14 × 8 × 128 bytes = 16 MB and about 50 ms per check (OWASP's minimum is
# N=2^17 with r=8 at 128 MB; 16 MB keeps a check cheap on a small machine, and failures are rate-limited).
N, R, P = 2**14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
_FORMAT = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")
_MAX_MEMORY = 256 * 1024 * 1024  # a hash asking for more than this is refused, not computed


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Return the salted scrypt hash of a password, in the form http.auth.password_hash takes."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P, HASH_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def check_hash(stored: str) -> str | None:
    """Why a stored hash cannot be used (a fault to report), or None when it can."""
    m = _FORMAT.fullmatch(stored)
    if m is None:
        return "expected scrypt$N$r$p$salt$hash, as `monitor hash-password` prints it"
    n, r, p = (int(g) for g in m.groups()[:3])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
        return "its scrypt parameters are not valid (N a power of 2, r and p small)"
    if 128 * n * r > _MAX_MEMORY:
        return f"its scrypt parameters need more than {_MAX_MEMORY >> 20} MB"
    try:
        salt, digest = base64.b64decode(m.group(4), validate=True), base64.b64decode(m.group(5), validate=True)
    except ValueError:
        return "its salt or hash is not base64"
    if len(salt) < 8 or len(digest) < 16:
        return "its salt or hash is too short"
    return None


def verify_password(password: str, stored: str) -> bool:
    """Whether password is the one stored hashes; constant time in the password (hmac.compare_digest)."""
    m = _FORMAT.fullmatch(stored)
    if m is None or check_hash(stored) is not None:
        return False
    n, r, p = (int(g) for g in m.groups()[:3])
    salt, digest = base64.b64decode(m.group(4)), base64.b64decode(m.group(5))
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAX_MEMORY + 2**20)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
