"""The realm's records, as the fake keeps them (its JSON representations are in `realm`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class User:
    id: str
    username: str
    email: str | None
    enabled: bool
    password: str
    created: int
    email_verified: bool = True
    service_account: bool = False


@dataclass
class Group:
    id: str
    name: str
    parent_id: str | None


@dataclass
class Role:
    id: str
    name: str
    container_id: str
    client: str | None = None  # the client's internal id for a client role
    composites: set[str] = field(default_factory=set)


@dataclass
class Client:
    id: str
    client_id: str
    secret: str
    service_account_user: str | None = None
