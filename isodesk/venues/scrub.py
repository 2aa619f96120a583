"""The one scrubber of the venue layer: every error message and log line that may carry a venue's
answer goes through :class:`Scrubber` before it is raised, logged or shown.

**The rule.** A secret (API key, secret, passphrase, wallet address; any of at least
:data:`MIN_SECRET` characters) is masked as ``***`` wherever it appears in any of the forms a venue,
a proxy or a library may echo it:

- as given;
- URL-encoded: ``quote`` (with and without ``/`` kept) and ``quote_plus``;
- JSON-escaped: ``json.dumps`` with and without ``ensure_ascii``, and with ``/`` written ``\\/``;
  and as Python quotes it (``repr``, ``ascii``: how ccxt's request log prints a dict of headers);
- base64 (standard and URL-safe alphabets, padded or not), at each of the three byte alignments, so
  a secret inside a longer encoded value (``Authorization: Basic base64(key:secret)``) is found too;
- in any letter case: text and forms are compared case-folded (``KEY``, ``key``, ``%2f`` for ``%2F``);
- **partially**: any run of :data:`PARTIAL_RUN` (8) or more consecutive characters of any form above.

Why 8: a venue or proxy that truncates what it echoes ("invalid key ak-LIVE-7f3c9e…") still
leaks a fragment, so fragments must go too; but the shorter the run, the more ordinary text is
masked (a 4-character run of a hex key matches years, ``USDT``, ``0000``) and the error loses its
meaning. A fragment of 7 characters or fewer leaves most of a key unknown (the venues' keys and
secrets are random strings of 18 to 64 characters) — beyond guessing — while an unrelated
8-character run of text matches one of a secret's runs by chance about once in 10^9 positions
(36^8 ≈ 2.8·10^12 case-folded alternatives against several hundred runs over all forms).
A secret shorter than 8 characters (a short OKX passphrase) is masked whole, in every form, never
by fragments.

URL query strings (``?timestamp=…&signature=…``) and ``signature=`` / ``apiKey:``-style
parameters are masked as well, whatever their value.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MIN_SECRET = 4
PARTIAL_RUN = 8
MASK = "***"

_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")
_SIGNED = re.compile(r"(?i)(signature|sign|apikey|api_key|api-key|x-mbx-apikey|ok-access-key|ok-access-sign|"
                     r"ok-access-passphrase|x-bapi-api-key|x-bapi-sign)(['\"]?\s*[:=]\s*['\"]?)[^\s&,'\"}]+")
# base64 characters of the first 3-byte group that depend on bytes before the secret, per alignment
_B64_LEAD = (0, 2, 3)
_B64_TAIL = (0, 1, 2)  # characters of the last partial group fixed by the secret alone, by bytes in it


def fold(text: str) -> str:
    """``text`` in lower case, character for character (the same length, so positions carry over)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _base64_cores(secret: str) -> set[str]:
    """The base64 text of ``secret`` encoded alone, and wherever it sits in a longer encoded value: for
    each alignment, the characters fixed by the secret's bytes alone (standard and URL-safe alphabets)."""
    raw = secret.encode("utf-8")
    whole = {encode(raw).decode("ascii") for encode in (base64.b64encode, base64.urlsafe_b64encode)}
    cores = whole | {w.rstrip("=") for w in whole}  # the secret encoded alone, padded or not
    for offset in range(3):
        size = offset + len(raw)
        end = 4 * (size // 3) + _B64_TAIL[size % 3]
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            cores.add(encode(b"\0" * offset + raw).decode("ascii")[_B64_LEAD[offset]:end])
    return {c for c in cores if c}


def forms(secret: str) -> set[str]:
    """Every form of ``secret`` the scrubber looks for (before case folding and fragments)."""
    escaped = json.dumps(secret)[1:-1]
    out = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret), quote_plus(secret, safe="/"),
           escaped, json.dumps(secret, ensure_ascii=False)[1:-1], escaped.replace("/", "\\/"),
           repr(secret)[1:-1], ascii(secret)[1:-1]}  # as Python prints it inside a dict of headers
    return out | _base64_cores(secret)


class Scrubber:
    """Masks the given secrets (the rule in the module docstring), URL query strings and signature/key
    parameters in a text. Calling it is the one way a venue-layer message is made safe."""

    def __init__(self, secrets: Iterable[object] = ()):
        grams: set[str] = set()
        whole: set[str] = set()
        for secret in {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET}:
            for form in forms(secret):
                folded = fold(form)
                if len(secret) < PARTIAL_RUN or len(folded) < PARTIAL_RUN:
                    whole.add(folded)
                else:
                    grams.update(folded[i:i + PARTIAL_RUN] for i in range(len(folded) - PARTIAL_RUN + 1))
        self._grams = frozenset(grams)
        self._whole = tuple(sorted(whole, key=len, reverse=True))

    def __call__(self, text: object) -> str:
        out = _mask_secrets(str(text), self._grams, self._whole)
        out = _QUERY.sub(r"\1?…", out)
        return _SIGNED.sub(r"\1\2" + MASK, out)


def _mask_secrets(text: str, grams: frozenset[str], whole: tuple[str, ...]) -> str:
    if not (grams or whole) or not text:
        return text
    folded = fold(text)
    masked = bytearray(len(text))
    n = PARTIAL_RUN
    if grams:
        for i in range(len(folded) - n + 1):
            if folded[i:i + n] in grams:
                masked[i:i + n] = b"\x01" * n
    for form in whole:
        start = folded.find(form)
        while start >= 0:
            masked[start:start + len(form)] = b"\x01" * len(form)
            start = folded.find(form, start + 1)
    if 1 not in masked:
        return text
    out, i = [], 0
    for match in re.finditer(b"\x01+", bytes(masked)):
        out += [text[i:match.start()], MASK]
        i = match.end()
    out.append(text[i:])
    return "".join(out)


__all__ = ["MASK", "MIN_SECRET", "PARTIAL_RUN", "Scrubber", "fold", "forms"]
