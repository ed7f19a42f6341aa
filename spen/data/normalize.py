"""Token normalisation before vocabulary lookup.

Scheme ``"twitter"`` (the authors' Twitter POS preprocessing), applied to one token, the
first matching rule wins:

1. @-mention: the token starts with ``@`` followed by at least one word character
   (regex ``^@\\w+``, Unicode ``\\w``) -> ``<@MENTION>``. So ``@user`` and ``@user's`` map,
   a lone ``@`` and an e-mail address such as ``me@x.com`` do not.
2. URL -> ``<URL>``, matched case-insensitively, when the token
   a. starts with ``http://``, ``https://`` or ``www.``; or
   b. is a bare domain with a path: dot-separated labels of ``[a-z0-9-]``, a last label of
      two or more letters, then ``/`` and anything (``bit.ly/xyz``, ``4sq.com/``); or
   c. is a bare domain ending in a common top-level domain (``com org net edu gov mil int
      info biz co io ly me tv us uk ca de fr jp au in it to gl fm am be cc ws nl es ru br
      mx eu ch se no``), optionally followed by ``/`` (``hotels.com``, ``NYTimes.com``).
   Abbreviations such as ``U.S.``, ``e.g.`` or ``a.m.`` and numbers such as ``3.5`` do not
   match.
3. Otherwise the token is lowercased (``str.lower``).

On the Twitter POS v0.3 files this maps every token tagged ``U`` except URL fragments split
by the tokeniser (``http``, ``://``) and e-mail addresses, and maps one token not tagged
``U`` (``NYTimes.com``, tagged ``^``).

Scheme ``"lower"`` lowercases only (for the NER GloVe lookup); ``"none"`` returns the token
unchanged.
"""

from __future__ import annotations

import re

MENTION = "<@MENTION>"
URL = "<URL>"

_MENTION = re.compile(r"^@\w+")
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|co|io|ly|me|tv|us|uk|ca|de|fr|jp|au|in|it|to|gl|"
    "fm|am|be|cc|ws|nl|es|ru|br|mx|eu|ch|se|no"
)
_URL = re.compile(
    r"^(?:https?://|www\.)"
    r"|^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:[a-z]{2,}/.*|(?:" + _TLDS + r")/?)$",
    re.IGNORECASE,
)

SCHEMES = ("twitter", "lower", "none")


def is_mention(token: str) -> bool:
    """Whether ``token`` is a Twitter @-mention (rule 1 of the module docstring)."""
    return _MENTION.match(token) is not None


def is_url(token: str) -> bool:
    """Whether ``token`` is a URL or bare web address (rule 2 of the module docstring)."""
    return _URL.match(token) is not None


def normalize_twitter(token: str) -> str:
    """The Twitter-normalised form of ``token``: ``<@MENTION>``, ``<URL>`` or lowercase."""
    if is_mention(token):
        return MENTION
    if is_url(token):
        return URL
    return token.lower()


def normalize_token(token: str, scheme: str) -> str:
    """``token`` normalised by ``scheme``: "twitter", "lower" (lowercase) or "none"."""
    if scheme == "twitter":
        return normalize_twitter(token)
    if scheme == "lower":
        return token.lower()
    if scheme == "none":
        return token
    allowed = ", ".join(repr(name) for name in SCHEMES)
    raise ValueError(f"unknown normalisation scheme {scheme!r}; allowed: {allowed}")
