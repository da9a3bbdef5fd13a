"""Links in comment text, shared by the policy's link rules and the spam signals."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)


def link_domains(body: str) -> list[str]:
    """The host of every link in the text, lower-case, without a leading www."""
    domains = []
    for match in URL.findall(body):
        url = match if "://" in match else "http://" + match
        try:
            host = (urlsplit(url).hostname or "").removeprefix("www.")
        except ValueError:  # a malformed link, e.g. an unclosed IPv6 bracket
            continue
        if host:
            domains.append(host)
    return domains


def matches_domain(host: str, domains) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)
