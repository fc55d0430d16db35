"""Bearer token → verified claims, for several trusted OIDC issuers at once (federation).

We verify with joserfc, the JOSE library from the Authlib project: python-keycloak 7 builds on jwcrypto,
but its OIDC client is tied to one realm and one Keycloak server, while Clearance trusts any number of
OIDC issuers (Keycloak or not) and needs exact control over key selection, algorithms and leeway.
joserfc is typed, small, and lets us hand it exactly one key and one algorithm per token.

Rules (CONTRACT.md, Identity): asymmetric algorithms only; `kid` required and looked up only in the
JWKS of the issuer named by `iss` (never in keys named by the token itself: `jku`, `x5u` and `jwk`
headers are ignored); `aud` or `azp` must name the configured audience; `exp` required and `exp`/`nbf`/
`iat` hold with at most 60 s leeway; tokens beyond a size limit are refused before any parsing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from access_index.errors import InvalidTokenError, KeysUnavailableError
from access_index.settings import IssuerConfig

LEEWAY_SECONDS = 60
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
FETCH_TIMEOUT_SECONDS = 5.0
# While an issuer's keys have never loaded, retry at most this often (an IdP outage must not be amplified).
FAILURE_BACKOFF_SECONDS = 5.0
MAX_JWKS_BYTES = 1_000_000
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 4096
CACHE_MAX_TOKEN_BYTES = 8192  # large (many-group) tokens are verified every time rather than held in memory
# Claims nest a few levels (resource_access, an `act` chain of at most caller.MAX_ACTORS): deeper JSON is
# refused. Integers past MAX_INT_DIGITS are no time, id or count any claim carries.
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 64
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

PublicKey = RSAKey | ECKey | OKPKey
log = logging.getLogger("clearance.identity")


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens we accept. `tenant_claim` is honoured only for the local dev issuer."""

    issuer: str
    audience: str
    tenant: str | None = None
    tenant_claim: bool = False


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and registered claims have been checked."""

    issuer: TrustedIssuer
    algorithm: str
    claims: Mapping[str, Any]


class KeySource(Protocol):
    """Where an issuer's public keys come from."""

    async def find(self, kid: str) -> PublicKey | None:
        """The key with this kid, refreshing (rate-limited) when it is unknown; None when it stays unknown."""


class StaticKeys:
    """Keys known in advance (the dev issuer's public key)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    async def find(self, kid: str) -> PublicKey | None:
        return _lookup(self._keys, kid)


class RemoteKeys:
    """An issuer's JWKS, found through discovery or a given `jwks_uri`, cached and refreshed on unknown kids."""

    def __init__(
        self,
        config: IssuerConfig,
        refresh_interval: float,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.refresh_interval = refresh_interval
        self._transport = transport
        self._clock = clock
        self._keys: KeySet | None = None
        self._jwks_uri = config.jwks_uri
        self._last_fetch: float | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    async def find(self, kid: str) -> PublicKey | None:
        if self._keys is not None:
            key = _lookup(self._keys, kid)
            if key is not None:
                return key
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            # Another request may have refreshed while we waited.
            if self._keys is not None:
                key = _lookup(self._keys, kid)
                if key is not None:
                    return key
            if self._keys is not None and not self._may_refresh(self.refresh_interval):
                return None  # a forged kid must not make us hammer the IdP
            if self._keys is None and not self._may_refresh(min(self.refresh_interval, FAILURE_BACKOFF_SECONDS)):
                raise KeysUnavailableError(f"the signing keys of issuer {self.config.issuer} are unavailable")
            await self.refresh()
            assert self._keys is not None
            return _lookup(self._keys, kid)

    async def refresh(self) -> None:
        """Fetch the JWKS now; KeysUnavailableError when the IdP cannot be reached or answers garbage."""
        self._last_fetch = self._clock()
        try:
            async with httpx.AsyncClient(
                timeout=FETCH_TIMEOUT_SECONDS, transport=self._transport, follow_redirects=False
            ) as client:
                if self._jwks_uri is None:
                    self._jwks_uri = await self._discover(client)
                document = await _get_json(client, self._jwks_uri)
            keys = _public_key_set(document)
        except (httpx.HTTPError, ValueError, JoseError) as error:
            log.warning("cannot fetch the keys of issuer %s: %s", self.config.issuer, error)
            raise KeysUnavailableError(
                f"the signing keys of issuer {self.config.issuer} are unavailable; retry later"
            ) from error
        self._keys = keys

    def _may_refresh(self, interval: float) -> bool:
        return self._last_fetch is None or self._clock() - self._last_fetch >= interval

    async def _discover(self, client: httpx.AsyncClient) -> str:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await _get_json(client, url)
        if document.get("issuer") != self.config.issuer:
            raise ValueError(f"discovery at {url} names issuer {document.get('issuer')!r}, not the configured one")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError(f"discovery at {url} has no usable jwks_uri")
        return jwks_uri


class TokenVerifier:
    """Verifies bearer tokens against every trusted issuer; the `iss` claim picks the issuer's keys.

    A verified token is remembered for CACHE_SECONDS (keyed by its SHA-256), so an agent's repeated calls
    skip the signature check (~0.3-2 ms each); the time claims are re-checked on every use, so a cached
    token still expires on time. The price: a key the IdP withdraws keeps working for at most CACHE_SECONDS.
    """

    def __init__(self, issuers: Sequence[tuple[TrustedIssuer, KeySource]], max_token_bytes: int) -> None:
        self._issuers = {trusted.issuer: (trusted, keys) for trusted, keys in issuers}
        self.max_token_bytes = max_token_bytes
        self._cache: OrderedDict[bytes, tuple[VerifiedToken, float]] = OrderedDict()

    @property
    def issuers(self) -> list[TrustedIssuer]:
        return [trusted for trusted, _ in self._issuers.values()]

    def key_sources(self) -> list[KeySource]:
        return [keys for _, keys in self._issuers.values()]

    async def verify(self, token: str, now: float | None = None) -> VerifiedToken:
        """The verified token, or InvalidTokenError (401) / KeysUnavailableError (503)."""
        if len(token) > self.max_token_bytes:
            raise InvalidTokenError("too_large", f"token larger than {self.max_token_bytes} bytes")
        current = time.time() if now is None else now
        digest = hashlib.sha256(token.encode("ascii", "replace")).digest()
        cached = self._cache.get(digest)
        if cached is not None and current - cached[1] < CACHE_SECONDS:
            _check_claims(cached[0].claims, cached[0].issuer, current)
            return cached[0]
        verified = await self._verify(token, current)
        if len(token) <= CACHE_MAX_TOKEN_BYTES:
            self._cache[digest] = (verified, current)
            self._cache.move_to_end(digest)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return verified

    async def _verify(self, token: str, now: float) -> VerifiedToken:
        header, claims = _unverified_parts(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ASYMMETRIC_ALGORITHMS:
            raise InvalidTokenError("algorithm", "token algorithm not accepted (asymmetric algorithms only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("missing_kid", "token header has no key id (kid)")
        issuer_name = claims.get("iss")
        if not isinstance(issuer_name, str) or issuer_name not in self._issuers:
            raise InvalidTokenError("untrusted_issuer", "token issuer is not trusted here")
        trusted, keys = self._issuers[issuer_name]
        key = await keys.find(kid)
        if key is None:
            raise InvalidTokenError("unknown_key", "token signed with a key the issuer does not publish")
        declared = key.get("alg")
        if declared is not None and declared != algorithm:
            raise InvalidTokenError("algorithm", "token algorithm does not match its key")
        try:
            verified = jwt.decode(token, key, algorithms=[algorithm])
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidTokenError("signature", "token signature does not verify") from error
        _check_claims(verified.claims, trusted, now)
        return VerifiedToken(issuer=trusted, algorithm=algorithm, claims=verified.claims)


def _check_claims(claims: Mapping[str, Any], trusted: TrustedIssuer, now: float) -> None:
    exp = claims.get("exp")
    if not _is_time(exp):
        raise InvalidTokenError("claims", "token has no numeric exp claim")
    if now > float(exp) + LEEWAY_SECONDS:
        raise InvalidTokenError("expired", "token expired")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if not _is_time(value):
            raise InvalidTokenError("claims", f"token {name} claim is not a number")
        if float(value) > now + LEEWAY_SECONDS:
            raise InvalidTokenError("not_yet_valid", "token not valid yet")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if trusted.audience not in audiences and claims.get("azp") != trusted.audience:
        raise InvalidTokenError("audience", "token audience does not name this service")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidTokenError("claims", "token has no subject (sub)")


def _is_time(value: object) -> TypeGuard[int | float]:
    """A NumericDate: a finite int or float (a bool is no time, NaN and infinity never come)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, decoded only to choose the issuer and key; nothing is trusted before verification.

    Any shape of garbage is an InvalidTokenError (401): bad base64url, bytes that are not UTF-8, JSON that
    is not an object, nests deeper than MAX_JSON_DEPTH (a payload nesting 2,000 deep made the parser recurse
    into a RecursionError: 500), or holds NaN, Infinity or a number too large for a float (an `exp` that
    never comes)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidTokenError("malformed", "token is not a signed JWT (header.payload.signature)")
    try:
        header = _json_object(_b64decode(parts[0]))
        claims = _json_object(_b64decode(parts[1]))
        _b64decode(parts[2])
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidTokenError("malformed", f"token is not a signed JWT ({error})") from error
    return header, claims


def _b64decode(segment: str) -> bytes:
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("a segment is not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int
        )
    except RecursionError:
        # The C parser recurses once per level and stops at the interpreter's limit: a 401, not a 500.
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise ValueError("header and payload must be JSON objects")
    if _nests_deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _nests_deeper_than(value: object, limit: int) -> bool:
    """Whether parsed JSON holds arrays/objects more than `limit` levels deep (an explicit stack: this walk
    cannot recurse into the error it guards against)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number beyond the range of a float")
    return number


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _lookup(keys: KeySet, kid: str) -> PublicKey | None:
    for key in keys.keys:
        if key.kid == kid and isinstance(key, RSAKey | ECKey | OKPKey) and key.get("use") in (None, "sig"):
            return key
    return None


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_JWKS_BYTES:
        raise ValueError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return document


def _public_key_set(document: Mapping[str, Any]) -> KeySet:
    """Only asymmetric public keys: a symmetric ("oct") key in a JWKS is dropped, never used to verify."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("JWKS has no 'keys' list")
    usable = [
        {name: value for name, value in entry.items() if name != "d"}
        for entry in entries
        if isinstance(entry, dict) and entry.get("kty") in {"RSA", "EC", "OKP"} and "d" not in entry
    ]
    return KeySet.import_key_set({"keys": usable})


def remote_issuer(config: IssuerConfig, refresh_interval: float) -> tuple[TrustedIssuer, RemoteKeys]:
    """A configured issuer (CLEARANCE_OIDC_ISSUERS entry) and its remote key source."""
    trusted = TrustedIssuer(issuer=config.issuer, audience=config.audience, tenant=config.tenant)
    return trusted, RemoteKeys(config, refresh_interval)
