"""API keys that belong to tenants, and the namespace each tenant's conversations live in.

`MANYSHORES_API_KEYS` lists the accepted keys in one of three unambiguous forms:

    acme:k1,acme:k2,globex:k3          comma-separated; `tenant:key`, or a bare key
    ["acme:k1", "globex:k3"]           a JSON list of the same entries
    {"acme": ["k1", "k2"], "globex": "k3"}   a JSON object: tenant -> key or keys

A bare key is a tenant of its own (named from a hash of the key, never the key itself), so
`key1,key2` keeps working with the two kept apart. Naming the tenant (`acme:k1`) lets a key be
rotated (`acme:k2`) without losing the tenant's conversations. A key that itself contains `:`
is given in the JSON object form.

A tenant's thread ids and `user` profile ids are stored under its name (`acme/t1`), so another
tenant asking for `t1` finds nothing: 404, as if it did not exist. Without keys there are no
tenants and ids are stored as sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from manyshores.graph.assistant import MAX_THREAD_ID

TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
"""A tenant's name: 1-32 letters, digits, `.`, `_`, `-` (it prefixes stored thread ids)."""
MAX_TENANT = 32
MAX_TENANT_THREAD_ID = MAX_THREAD_ID - MAX_TENANT - 1
"""Longest thread id a tenant sends: the stored id is `tenant/` followed by it."""
QUOTE_CHARS = 40
"""Longest prefix of a rejected value that an error message quotes."""


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """`repr` of at most `limit` characters of `value`, marked when cut (errors never echo a
    whole 20,000-character input)."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _entries_from_json(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"MANYSHORES_API_KEYS starts with {text[0]!r} but is not JSON ({exc.msg}); write "
            'tenant:key,... or ["tenant:key", ...] or {"tenant": ["key", ...]}'
        ) from None
    if isinstance(data, list) and all(isinstance(e, str) for e in data):
        return data
    if isinstance(data, dict):
        entries = []
        for tenant, keys in data.items():
            keys = [keys] if isinstance(keys, str) else keys
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError(
                    f"MANYSHORES_API_KEYS: tenant {quote(tenant)} must map to a key or a list of keys"
                )
            if not TENANT_NAME.fullmatch(tenant):
                raise ValueError(f"MANYSHORES_API_KEYS: {_bad_name(tenant)}")
            entries += [f"{tenant}:{k}" for k in keys]
        return entries
    raise ValueError(
        "MANYSHORES_API_KEYS must be a JSON list of strings or an object tenant -> keys"
    )


def parse_api_keys(value: str) -> tuple[str, ...]:
    """The entries of `MANYSHORES_API_KEYS` (`tenant:key` or bare keys), checked; raises
    ValueError naming what is wrong."""
    text = value.strip()
    if not text:
        return ()
    raw = _entries_from_json(text) if text[0] in "[{" else text.split(",")
    entries = [e.strip() for e in raw if e.strip()]
    key_tenants(entries)  # checks every entry
    return tuple(entries)


def _bad_name(name: str) -> str:
    return (
        f"tenant name {quote(name)} must be 1-{MAX_TENANT} letters, digits, '.', '_' or '-' "
        "(a key containing ':' goes in the JSON object form)"
    )


def plain_tenant(key: str) -> str:
    """The tenant of a bare key: named from the key's hash (the key is never stored)."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def split_entry(entry: str) -> tuple[str, str]:
    """(tenant, key) of one entry."""
    tenant, sep, key = entry.partition(":")
    if not sep:
        return plain_tenant(entry), entry
    if not TENANT_NAME.fullmatch(tenant):
        raise ValueError(f"MANYSHORES_API_KEYS: {_bad_name(tenant)}")
    if not key.strip():
        raise ValueError(f"MANYSHORES_API_KEYS: tenant {tenant!r} has an empty key")
    return tenant, key.strip()


def key_tenants(entries: Iterable[str]) -> dict[str, str]:
    """Key -> tenant for the entries; a key given to two tenants is an error."""
    owners: dict[str, str] = {}
    for entry in entries:
        tenant, key = split_entry(entry.strip())
        if owners.get(key, tenant) != tenant:
            raise ValueError(
                f"MANYSHORES_API_KEYS: one key is given to two tenants ({owners[key]}, {tenant})"
            )
        owners[key] = tenant
    return owners


def stored_thread_id(tenant: str | None, thread_id: str) -> str:
    """The id a client's thread is stored under."""
    return thread_id if tenant is None else f"{tenant}/{thread_id}"


def stored_user_id(tenant: str | None, user_id: str) -> str:
    """The id a client's `user` profile is stored under."""
    return user_id if tenant is None else f"{tenant}/{user_id}"


def request_hash(*parts: str) -> str:
    """A fixed-length digest of a request id within its scope (message ids, new thread ids)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the tenant its key belongs to (None without keys)."""

    tenant: str | None = None
    """The tenant's name; None when the server has no keys."""

    @property
    def max_thread_id(self) -> int:
        """Longest thread id this caller may send."""
        return MAX_THREAD_ID if self.tenant is None else MAX_TENANT_THREAD_ID

    def thread(self, thread_id: str) -> str:
        return stored_thread_id(self.tenant, thread_id)

    def user(self, user_id: str) -> str:
        return stored_user_id(self.tenant, user_id)
