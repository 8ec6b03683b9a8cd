"""Who is acting: the principal a request or an event speaks for, and how services check it (decision 38).

A caller proves who it is with an API token (``Authorization: Bearer <token>``). The gateway asks the identity
service to resolve the token into a :class:`Principal` (township, actor, role, and for some roles their scope),
signs it with ``PRINCIPAL_KEY`` and passes the signed form to the service it calls. The service verifies the
signature and checks the role again (:func:`authorized`): a service never takes a township or an actor id from a
request body or header, and a message put on the RPC exchange by anything but the gateway cannot make up a
principal. A request without a token acts as the public (:data:`PUBLIC`), which may only do what the README's
role table grants it.

Tokens are random (256 bits), shown once, and stored only as their SHA-256 (:func:`token_hash`): a token is long
and random, so a slow password hash would add nothing but latency to every request. The demo county's tokens are
fixed (:func:`demo_token`) so the README and the tests can name them; they exist only where the demo is loaded.
"""
from __future__ import annotations

import contextvars
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .errors import Forbidden, Unauthorized

ROLES = ("office", "unit", "party_member", "volunteer", "social_org", "supervision", "meeting", "county", "public")
# the roles whose actor is in dispatch's registry (actor id ``<kind>:<id>``, the kind being the role)
REGISTERED_ROLES = ("unit", "party_member", "volunteer", "social_org")
TASK_ROLES = ("unit", "party_member", "volunteer")
SIGNED_IN = tuple(r for r in ROLES if r != "public")
EVERYONE = ROLES
TOKEN_PREFIX = "tp_"
DEFAULT_PRINCIPAL_KEY = "development-only-principal-key"
DEFAULT_CASE_SECRET_KEY = "development-only-case-secret-key"


@dataclass(frozen=True)
class Principal:
    """Who acts. ``actor`` is ``<role>:<id>`` (``unit:water_station``, ``office:wang``), ``public`` for no token,
    or ``service:<name>`` for a service acting on its own (a timer, a consumer). ``township_id`` is the township
    the principal belongs to (None for a county); ``townships`` the townships it may read (a county's; the own one
    otherwise); ``villages`` a supervision group's villages; ``organisation`` the social organisation a supervision
    group belongs to, whose reports it may never review."""

    role: str
    actor: str
    township_id: str | None
    county_id: str | None = None
    townships: tuple[str, ...] = ()
    villages: tuple[str, ...] = ()
    organisation: str | None = None
    token_id: str | None = None

    def __post_init__(self):
        if self.role not in ROLES and not self.actor.startswith("service:"):
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def acting_as(self) -> str:
        """The actor as the domain modules know it: every office clerk acts as ``office``."""
        return "office" if self.role == "office" else self.actor

    @property
    def is_public(self) -> bool:
        return self.role == "public"

    def may_read(self, township_id: str) -> bool:
        return township_id == self.township_id or township_id in self.townships

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["townships"] = list(self.townships)
        data["villages"] = list(self.villages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Principal":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["townships"] = tuple(values.get("townships") or ())
        values["villages"] = tuple(values.get("villages") or ())
        return cls(**values)


def public(township_id: str | None) -> Principal:
    """The public of a township: a resident without a token."""
    return Principal(role="public", actor="public", township_id=township_id)


def service_principal(name: str, township_id: str | None = None) -> Principal:
    return Principal(role="public", actor=f"service:{name}", township_id=township_id)


# signing ---------------------------------------------------------------------------------------------------------
def _mac(key: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def sign(principal: Principal, key: str) -> dict[str, Any]:
    """The wire form of ``principal``: its fields and an HMAC over them."""
    body = principal.to_dict()
    return {**body, "sig": _mac(key, body)}


def verify(wire: Any, key: str) -> Principal:
    """The :class:`Principal` of a signed wire form; :class:`Unauthorized` if anything does not match."""
    if not isinstance(wire, dict) or not isinstance(wire.get("sig"), str):
        raise Unauthorized("the call carries no signed principal")
    body = {k: v for k, v in wire.items() if k != "sig"}
    if not hmac.compare_digest(_mac(key, body), wire["sig"]):
        raise Unauthorized("the principal's signature does not match")
    try:
        return Principal.from_dict(body)
    except (TypeError, ValueError) as exc:
        raise Unauthorized(f"the principal is malformed: {exc}") from None


# tokens ----------------------------------------------------------------------------------------------------------
def new_token() -> str:
    """A fresh API token: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token, and how it is looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_id(token: str) -> str:
    """A token's public id (listing, revoking): the first 16 hex digits of its hash; never the token."""
    return token_hash(token)[:16]


def demo_token(township_id: str | None, actor: str) -> str:
    """The fixed token of a demo actor (``county:lanxi`` has no township). Only the demo county's loader issues
    them; a real deployment never has them."""
    digest = hashlib.sha256(f"township-demo:{township_id or '-'}:{actor}".encode()).hexdigest()
    return f"{TOKEN_PREFIX}demo_{digest[:32]}"


def case_secret(key: str, case_id: str) -> str:
    """The secret a resident gets at submission to follow that one case (128 bits). It is derived, not stored:
    a replayed submission answers the same secret, and nothing readable from the database reveals it."""
    return hmac.new(key.encode(), f"case:{case_id}".encode(), hashlib.sha256).hexdigest()[:32]


def case_secret_matches(key: str, case_id: str, secret: Any) -> bool:
    return isinstance(secret, str) and hmac.compare_digest(case_secret(key, case_id), secret)


# the acting principal of the current worker -----------------------------------------------------------------------
_acting: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("acting", default=None)


def current() -> Principal | None:
    """The principal the current worker acts for (set by :func:`authorized`), None outside one."""
    return _acting.get()


def current_actor(default: str) -> str:
    """The actor to record on a write or an event: the acting principal's, else ``default`` (``service:<name>``)."""
    principal = _acting.get()
    return principal.actor if principal is not None else default


def require(principal: Principal, *roles: str) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"the {principal.role} role may not do this", role=principal.role, allowed=list(roles))
    return principal


def authorized(*roles: str, key_config: str = "PRINCIPAL_KEY") -> Callable:
    """Decorate an RPC method whose first argument is the caller's signed principal: verify it with the service's
    ``PRINCIPAL_KEY`` (401 if it fails), refuse a role not in ``roles`` (403), and call the method with the
    :class:`Principal`, which is also the acting principal (:func:`current`) for the events the call writes."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, principal, *args, **kwargs):
            key = self.config.get(key_config) or DEFAULT_PRINCIPAL_KEY
            checked = require(verify(principal, key), *roles)
            token = _acting.set(checked)
            try:
                return method(self, checked, *args, **kwargs)
            finally:
                _acting.reset(token)

        wrapper.roles = roles
        return wrapper

    return decorate
