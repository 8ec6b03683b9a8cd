"""Who may do what on RabbitMQ: each service of ``services.toml`` connects as its own user (decision 50).

A service's user may publish only to its own event exchange (``<service>.events``, only the event types
``PUBLISHERS`` gives it), to ``nameko-rpc`` (replies, and calls to the services it holds an RPC proxy to) and to
the dead-letter exchange; it may read only its own queues (``rpc-<service>``, ``rpc.reply-<service>-<uuid>``,
``evt-<source>-<type>--<service>.<method>``) and bind them only to what it consumes. Everything is derived from
the service classes (their entrypoints and RPC proxies) and the event registry, so a new service needs nothing
here: :func:`grants` reads it from the code.

The exchanges (every service's, ``nameko-rpc``, the dead letters) and the dead-letter queue are declared by
:func:`provision` (an administrator, through the management API), never by a service: declaring an exchange
needs the ``configure`` permission, which is also the permission to delete it. A service's container says so to
its extensions with nameko's ``DECLARE_EVENT_EXCHANGES: false`` (:func:`declared_by_administrator`):
nameko then declares no event exchange, and ``township_shared.consumers`` and ``township_shared.service`` bind to
``nameko-rpc`` and publish dead letters without declaring them.

- :func:`service_uri` gives a service its own ``AMQP_URI`` (user ``township-<service>``, password
  ``AMQP_PASSWORD_<SERVICE>`` from the environment, a development default only on a local broker);
  :class:`ServiceContainer` (``SERVICE_CONTAINER_CLS`` in ``config.yaml``) applies it to every container;
- ``python -m township_shared.bus provision`` creates or updates the users, their permissions, the exchanges and
  the dead-letter queue of a vhost (idempotent; ``deploy/backing.sh`` runs it for the development broker);
- ``python -m township_shared.bus definitions`` prints the same as a RabbitMQ definitions file (passwords hashed)
  for ``rabbitmqctl import_definitions`` in production.
"""
from __future__ import annotations

import base64
import hashlib
import inspect
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, urlparse, urlunparse

from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.containers import ServiceContainer as NamekoContainer

USER_PREFIX = "township-"
RPC_EXCHANGE = "nameko-rpc"
DEAD_LETTERS = "township.dead_letters"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
NOTHING = "^$"  # a regex no name or routing key the platform uses matches
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
PASSWORD_VARIABLE = "AMQP_PASSWORD_{}"


class InsecureBrokerAccount(ValueError):
    """A service would connect to a broker that is not local with a development password."""


# who is who ------------------------------------------------------------------------------------------------------
def user(service: str) -> str:
    return f"{USER_PREFIX}{service}"


def development_password(service: str) -> str:
    """The password of ``service``'s user when ``AMQP_PASSWORD_<SERVICE>`` is not set: for a local broker only."""
    return f"dev-{service}"


def password(service: str, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(PASSWORD_VARIABLE.format(service.upper())) or development_password(service)


def is_local(uri: str) -> bool:
    return (urlparse(uri).hostname or "") in LOCAL_HOSTS


def service_uri(amqp_uri: str, service: str, environ: Mapping[str, str] = os.environ) -> str:
    """``amqp_uri`` (the broker and vhost) with ``service``'s own user and password. Raises
    :class:`InsecureBrokerAccount` when the broker is not on this host and the password is the development one."""
    secret = password(service, environ)
    if secret == development_password(service) and not is_local(amqp_uri):
        raise InsecureBrokerAccount(
            f"{service} would connect to {urlparse(amqp_uri).hostname} with the development password: set "
            f"{PASSWORD_VARIABLE.format(service.upper())} (decision 50)")
    parts = urlparse(amqp_uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user(service), safe='')}:{quote(secret, safe='')}@{f'[{host}]' if ':' in host else host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunparse(parts._replace(netloc=netloc))


def vhost_of(amqp_uri: str) -> str:
    """The vhost an AMQP URI names (``/`` when its path is empty or ``/``, as kombu reads it)."""
    path = urlparse(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def event_exchange(service: str) -> str:
    return f"{service}.events"


def declared_by_administrator(config: Mapping[str, Any]) -> bool:
    """True in a container of a service of ``services.toml`` (:class:`ServiceContainer`): the exchanges and the
    dead-letter queue exist, declared by :func:`provision`, and the service's user may not declare them."""
    return config.get("DECLARE_EVENT_EXCHANGES") is False


def _lit(name: str) -> str:
    """``name`` as a regex matching only itself (names here use letters, digits and ``_ - . * #``)."""
    return name.replace(".", "\\.").replace("*", "\\*")


# what each service does on the bus, read from its class ------------------------------------------------------------
@dataclass
class Needs:
    """What a service does on the broker, from its entrypoints and dependencies."""

    service: str
    serves_rpc: bool = False
    calls: set[str] = field(default_factory=set)            # services it holds an RPC proxy to
    consumes: set[tuple[str, str, str]] = field(default_factory=set)   # (source, event type or #, method)
    publishes: set[str] = field(default_factory=set)        # event types (PUBLISHERS)
    reads_dead_letters: bool = False                         # a dependency reads them through the management API


def needs_of(name: str, service_cls: type, all_services: Iterable[str]) -> Needs:
    """What ``service_cls`` (named ``name``) does on the bus: its ``@rpc`` and event handler entrypoints, its RPC
    proxies, the event types the registry gives it, and whether a dependency says ``reads_dead_letters = True``."""
    from nameko.events import EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
    from nameko.rpc import Rpc, RpcProxy

    from .events import PUBLISHERS
    from .schemas import load_all

    load_all()
    found = Needs(name, publishes={kind for kind, owner in PUBLISHERS.items() if owner == name})
    for attr_name, attr in inspect.getmembers(service_cls):
        for entrypoint in getattr(attr, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Rpc):
                found.serves_rpc = True
            elif isinstance(entrypoint, EventHandler):
                sources = [entrypoint.source_service] if entrypoint.source_service else list(all_services)
                found.consumes |= {(source, entrypoint.event_type, attr_name) for source in sources}
        if isinstance(attr, RpcProxy):
            found.calls.add(attr.target_service)
        if getattr(attr, "reads_dead_letters", False):
            found.reads_dead_letters = True
    return found


def queue_names(needs: Needs) -> list[str]:
    """The queues nameko declares for the service: the names ``nameko.rpc`` and ``nameko.events`` build (an
    every-event consumer: ``evt-all--<service>.<method>``), reply queues as a pattern."""
    names = [_lit(f"rpc-{needs.service}")] if needs.serves_rpc else []
    if needs.calls:
        names.append(_lit(f"rpc.reply-{needs.service}-") + UUID)
    for source, kind, method in sorted(needs.consumes):
        queue = (f"evt-all--{needs.service}.{method}" if kind == "#"
                 else f"evt-{source}-{kind}--{needs.service}.{method}")
        names.append(_lit(queue))
    return sorted(set(names))


def _any_of(patterns: Iterable[str]) -> str:
    patterns = sorted(set(patterns))
    return f"^({'|'.join(patterns)})$" if patterns else NOTHING


@dataclass(frozen=True)
class Grant:
    """A user's permissions in the product's vhost: the three regexes, the topic permissions per topic exchange
    (write: routing keys it may publish with; read: binding keys it may bind with) and its tags."""

    user: str
    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]]
    tags: str = ""


def grant(needs: Needs) -> Grant:
    """The least the service needs (the operations nameko performs, decision 50):

    - configure (declare, delete): its own queues only;
    - write (publish; bind a queue = write on the queue): its own exchange, its own queues, ``nameko-rpc`` if it
      serves or makes calls, the dead-letter exchange if it consumes events;
    - read (consume; bind to an exchange = read on the exchange): its own queues, ``nameko-rpc`` if it serves or
      makes calls, the exchanges of the services it consumes, the dead-letter queue if it reads it;
    - topic permissions on ``nameko-rpc``: publish replies (a reply queue's uuid) if it serves and calls only to
      the services it holds a proxy to; bind ``<service>.*`` and its reply uuid only; on its own exchange, publish
      only its event types; on each exchange it consumes, bind only the types it consumes."""
    own_queues = queue_names(needs)
    own_exchange = _lit(event_exchange(needs.service))
    rpc = needs.serves_rpc or bool(needs.calls)
    sources = sorted({source for source, _, _ in needs.consumes})
    configure = own_queues
    write = own_queues + [own_exchange] + ([_lit(RPC_EXCHANGE)] if rpc else [])
    write += [_lit(DEAD_LETTERS)] if needs.consumes else []
    read = own_queues + ([_lit(RPC_EXCHANGE)] if rpc else [])
    read += [_lit(event_exchange(source)) for source in sources]
    read += [_lit(DEAD_LETTERS)] if needs.reads_dead_letters else []

    topics: dict[str, tuple[str, str]] = {}
    if rpc:
        publish_keys = ([UUID] if needs.serves_rpc else []) + [_lit(f"{t}.") + "[a-z0-9_]+"
                                                              for t in sorted(needs.calls)]
        bind_keys = ([_lit(f"{needs.service}.*")] if needs.serves_rpc else []) + ([UUID] if needs.calls else [])
        topics[RPC_EXCHANGE] = (_any_of(publish_keys), _any_of(bind_keys))
    for source in sorted(set(sources) | {needs.service}):
        publish_keys = [_lit(kind) for kind in needs.publishes] if source == needs.service else []
        bind_keys = [_lit(kind) for s, kind, _ in needs.consumes if s == source]
        topics[event_exchange(source)] = (_any_of(publish_keys), _any_of(bind_keys))
    return Grant(user(needs.service), _any_of(configure), _any_of(write), _any_of(read), topics,
                 "management" if needs.reads_dead_letters else "")


@lru_cache(maxsize=1)
def grants() -> tuple[Grant, ...]:
    """Every service's grant, from ``services.toml`` and the service classes."""
    from .registry import services

    specs = services()
    names = [spec.name for spec in specs]
    return tuple(grant(needs_of(spec.name, spec.service_class(), names)) for spec in specs)


def exchanges() -> list[dict[str, Any]]:
    """The exchanges an administrator declares (the services bind to them without declaring them), exactly as nameko
    and ``township_shared.consumers`` would: every service's event exchange and that of every service one consumes
    (a publisher not built yet, e.g. ``meetings``), the RPC exchange, the dead letters."""
    from .registry import services

    topic = {"type": "topic", "durable": True, "auto_delete": False, "internal": False, "arguments": {}}
    sources = {spec.name for spec in services()}
    for g in grants():
        sources |= {exchange[:-len(".events")] for exchange in g.topics if exchange.endswith(".events")}
    found = [{"name": event_exchange(source), **topic} for source in sorted(sources)]
    found.append({"name": RPC_EXCHANGE, **topic})
    found.append({"name": DEAD_LETTERS, "type": "fanout", "durable": True, "auto_delete": False, "internal": False,
                  "arguments": {}})
    return found


DEAD_LETTER_QUEUE = {"name": DEAD_LETTERS, "durable": True, "auto_delete": False, "arguments": {}}
DEAD_LETTER_BINDING = {"source": DEAD_LETTERS, "destination": DEAD_LETTERS, "destination_type": "queue",
                       "routing_key": "", "arguments": {}}


# applying it -----------------------------------------------------------------------------------------------------
class Admin:
    """RabbitMQ's management API as an administrator (``http://user:password@host:15672``)."""

    def __init__(self, api_uri: str, timeout: float = 10.0):
        import requests

        parts = urlparse(api_uri)
        self.base = f"{parts.scheme or 'http'}://{parts.hostname}:{parts.port or 15672}/api"
        self.session = requests.Session()
        self.user = unquote(parts.username or "guest")
        self.session.auth = (self.user, unquote(parts.password or "guest"))
        self.timeout = timeout

    def put(self, path: str, body: dict[str, Any]) -> None:
        self.session.put(f"{self.base}/{path}", json=body, timeout=self.timeout).raise_for_status()

    def post(self, path: str, body: dict[str, Any]) -> None:
        self.session.post(f"{self.base}/{path}", json=body, timeout=self.timeout).raise_for_status()


def provision_users(admin: Admin, environ: Mapping[str, str] = os.environ) -> None:
    """Create or update every service's user (global to the broker) with its password from the environment."""
    for g in grants():
        admin.put(f"users/{quote(g.user, safe='')}",
                  {"password": password(g.user[len(USER_PREFIX):], environ), "tags": g.tags})


def dead_letter_queue(queue_type: str = "classic") -> dict[str, Any]:
    """The dead-letter queue as the administrator declares it, of the deployment's queue type (decision 80)."""
    from .queues import arguments

    return {**DEAD_LETTER_QUEUE, "arguments": arguments({"AMQP_QUEUE_TYPE": queue_type})}


def provision_vhost(admin: Admin, vhost: str, queue_type: str = "classic") -> None:
    """In ``vhost`` (created if missing): every service user's permissions and topic permissions, the exchanges and
    the dead-letter queue (of ``queue_type``) with its binding. The administrator itself gets every permission in
    ``vhost``: the management API declares the exchanges with them. The independent calls go out eight at a time
    (about 40 calls, and each test provisions a vhost of its own: 0.3 s one by one, 0.065 s so)."""
    from concurrent.futures import ThreadPoolExecutor

    v = quote(vhost, safe="")
    admin.put(f"vhosts/{v}", {})
    admin.put(f"permissions/{v}/{quote(admin.user, safe='')}", {"configure": ".*", "write": ".*", "read": ".*"})
    calls: list[tuple[str, dict[str, Any]]] = []
    for g in grants():
        name = quote(g.user, safe="")
        calls.append((f"permissions/{v}/{name}", {"configure": g.configure, "write": g.write, "read": g.read}))
        calls += [(f"topic-permissions/{v}/{name}", {"exchange": exchange, "write": write, "read": read})
                  for exchange, (write, read) in g.topics.items()]
    calls += [(f"exchanges/{v}/{quote(e['name'], safe='')}",
               {k: e[k] for k in ("type", "durable", "auto_delete", "internal", "arguments")}) for e in exchanges()]
    queue = dead_letter_queue(queue_type)
    calls.append((f"queues/{v}/{quote(DEAD_LETTERS, safe='')}",
                  {k: queue[k] for k in ("durable", "auto_delete", "arguments")}))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda call: admin.put(*call), calls))
    admin.post(f"bindings/{v}/e/{quote(DEAD_LETTERS, safe='')}/q/{quote(DEAD_LETTERS, safe='')}",
               {"routing_key": "", "arguments": {}})


def provision(admin: Admin, vhost: str, environ: Mapping[str, str] = os.environ,
              queue_type: str = "classic") -> None:
    """Everything a vhost needs before the services start: :func:`provision_users`, :func:`provision_vhost`.
    Idempotent; run it again after adding a service or changing a password."""
    provision_users(admin, environ)
    provision_vhost(admin, vhost, queue_type)


def password_hash(secret: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password)), a 4-byte salt."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + secret.encode("utf-8")).digest()).decode("ascii")


def definitions(vhost: str, environ: Mapping[str, str] = os.environ, queue_type: str = "classic") -> dict[str, Any]:
    """The same as :func:`provision`, as a RabbitMQ definitions document (``rabbitmqctl import_definitions``);
    passwords from the environment, hashed. Refuses a development password: this is for a real broker."""
    users, permissions, topic_permissions = [], [], []
    for g in grants():
        service = g.user[len(USER_PREFIX):]
        secret = password(service, environ)
        if secret == development_password(service):
            raise InsecureBrokerAccount(f"set {PASSWORD_VARIABLE.format(service.upper())}: the definitions are for "
                                        f"a real broker (decision 50)")
        users.append({"name": g.user, "password_hash": password_hash(secret),
                      "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": g.tags})
        permissions.append({"user": g.user, "vhost": vhost, "configure": g.configure, "write": g.write,
                            "read": g.read})
        topic_permissions += [{"user": g.user, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
                              for exchange, (write, read) in g.topics.items()]
    return {"vhosts": [{"name": vhost}], "users": users, "permissions": permissions,
            "topic_permissions": topic_permissions,
            "exchanges": [{**e, "vhost": vhost} for e in exchanges()],
            "queues": [{**dead_letter_queue(queue_type), "vhost": vhost}],
            "bindings": [{**DEAD_LETTER_BINDING, "vhost": vhost}]}


# nameko ----------------------------------------------------------------------------------------------------------
class ServiceContainer(NamekoContainer):
    """nameko's container (``SERVICE_CONTAINER_CLS``), connecting as the service's own broker user
    (:func:`service_uri`) when the service is one of ``services.toml``; any other service (a test's) keeps
    ``AMQP_URI``."""

    def __init__(self, service_cls, config):
        from .registry import services

        name = getattr(service_cls, "name", None)
        if name in {spec.name for spec in services()}:
            config = {**config, AMQP_URI_CONFIG_KEY: service_uri(config[AMQP_URI_CONFIG_KEY], name),
                      "DECLARE_EVENT_EXCHANGES": False}
        super().__init__(service_cls, config)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    from .config import load_config
    from .queues import queue_type

    parser = argparse.ArgumentParser(prog="python -m township_shared.bus", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("provision", "definitions", "grants"))
    parser.add_argument("--vhost", help="default: the vhost of AMQP_URI")
    parser.add_argument("--api", help="the management API as an administrator; default: RABBIT_ADMIN_API_URI, "
                                      "else the host of RABBIT_API_URI with AMQP_URI's user")
    args = parser.parse_args(argv)
    config = load_config()
    vhost = args.vhost or vhost_of(config["AMQP_URI"])
    if args.action == "definitions":
        json.dump(definitions(vhost, queue_type=queue_type(config)), sys.stdout, indent=2)
        print()
    elif args.action == "grants":
        for g in grants():
            print(json.dumps(g.__dict__, indent=2))
    else:
        admin = Admin(args.api or os.environ.get("RABBIT_ADMIN_API_URI") or admin_api(config))
        provision(admin, vhost, queue_type=queue_type(config))
        print(f"bus: {len(grants())} service users and their permissions in vhost {vhost!r} are in place",
              file=sys.stderr)
    return 0


def admin_api(config: Mapping[str, Any]) -> str:
    """The management API of the broker of ``AMQP_URI`` with ``AMQP_URI``'s user: the administrator of a local
    development broker (``guest``)."""
    amqp, api = urlparse(config["AMQP_URI"]), urlparse(config.get("RABBIT_API_URI") or "http://127.0.0.1:15672")
    who = f"{amqp.username or 'guest'}:{amqp.password or 'guest'}@"
    return f"{api.scheme or 'http'}://{who}{api.hostname or amqp.hostname}:{api.port or 15672}"


if __name__ == "__main__":
    raise SystemExit(main())
