"""Credentials for the compatibility API tests."""

from __future__ import annotations

from service.compat.credentials import add_coral_secret, create_api_key
from service.sites.operations import find_site


def new_api_key(stack, name: str = "client") -> str:
    with stack.sessions.begin() as session:
        _, key = create_api_key(session, find_site(session, stack.site_key), name)
    return key


def new_coral_secret(stack, secret: str | None = None) -> str:
    with stack.sessions.begin() as session:
        _, value = add_coral_secret(session, find_site(session, stack.site_key), "coral", secret)
    return value
