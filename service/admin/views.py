"""Admin API: a site's policy, what-if replay of a candidate, and saving it as a new version."""

from __future__ import annotations

import time
from functools import wraps
from typing import Literal

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.accounts.auth import current_user
from service.admin.operations import policy_diff, rules_of, save_policy
from service.admin.stats import site_stats
from service.comments.views import json_object
from service.compat.credentials import (
    CredentialError, add_coral_secret, create_api_key, credential_json, list_credentials, revoke_credential,
)
from service.errors import APIError
from service.extensions import db
from service.moderation.policy import SCORE_ATTRIBUTES, PolicyRules, Threshold
from service.moderation.replay import History, load_history, replay
from service.sites.models import Policy
from service.accounts.models import User
from service.sites.operations import (
    InvalidOrigin, create_site, current_policy, find_site, rotate_key, set_article_closed, set_origins,
)

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
REPLAY_LIMIT = 100_000
#: An editor previews on every change; the site's history is loaded once and replayed for this long.
HISTORY_SECONDS = 60.0


def admin_required(view):
    """401 for anonymous callers, 403 for moderators."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            raise APIError(401, "unauthorized", "sign in, or send Authorization: Bearer <token>")
        if not user.is_admin:
            raise APIError(403, "forbidden", "only admins can change sites and policies")
        return view(*args, **kwargs)

    return wrapper


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    review_at: float | None = Field(default=None, ge=0, le=1)
    reject_at: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self):
        if self.review_at is not None and self.reject_at is not None and self.reject_at < self.review_at:
            raise ValueError("reject_at must not be below review_at")
        return self


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    thresholds: dict[Literal[SCORE_ATTRIBUTES], ThresholdIn]  # type: ignore[valid-type]
    premoderation: Literal["none", "flagged", "all"]
    banned_words: list[str] = Field(default_factory=list, max_length=5000)
    suspect_words: list[str] = Field(default_factory=list, max_length=5000)
    hold_first: int = Field(default=0, ge=0, le=1000)
    max_links: int | None = Field(default=None, ge=0, le=100)
    allow_domains: list[str] = Field(default_factory=list, max_length=1000)
    deny_domains: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("allow_domains", "deny_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = [d.strip().lower().removeprefix("www.") for d in domains if d.strip()]
        if any(len(d) > 253 or " " in d or "/" in d for d in cleaned):
            raise ValueError("list bare domain names, such as casino.example")
        return sorted(dict.fromkeys(cleaned))

    @field_validator("banned_words", "suspect_words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        cleaned = [w.strip() for w in words if w.strip()]
        if any(len(w) > 64 for w in cleaned):
            raise ValueError("a listed word may have at most 64 characters")
        return sorted(dict.fromkeys(cleaned))

    def rules(self) -> PolicyRules:
        return PolicyRules(
            thresholds={name: Threshold(t.review_at, t.reject_at) for name, t in self.thresholds.items()},
            premoderation=self.premoderation,
            banned_words=tuple(self.banned_words),
            suspect_words=tuple(self.suspect_words),
            hold_first=self.hold_first,
            max_links=self.max_links,
            allow_domains=tuple(self.allow_domains),
            deny_domains=tuple(self.deny_domains),
        )


def policy_json(policy: Policy) -> dict:
    rules = rules_of(policy)
    return {
        "version": policy.version,
        "thresholds": rules.thresholds_json(),
        "premoderation": rules.premoderation,
        "banned_words": list(rules.banned_words),
        "suspect_words": list(rules.suspect_words),
        "hold_first": rules.hold_first,
        "max_links": rules.max_links,
        "allow_domains": list(rules.allow_domains),
        "deny_domains": list(rules.deny_domains),
        "created_by": policy.created_by,
        "created_at": policy.created_at.isoformat(),
    }


def _history(site_id: int) -> History:
    cache = current_app.extensions.setdefault("modqueue.replay_history", {})
    expires, history = cache.get(site_id, (0.0, None))
    if history is None or expires < time.monotonic():
        history = load_history(db.session, site_id, limit=REPLAY_LIMIT)
        cache[site_id] = (time.monotonic() + HISTORY_SECONDS, history)
    return history


def _site(site_key: str):
    site = find_site(db.session, site_key)
    if site is None:
        raise APIError(404, "unknown_site", "no site has this key")
    return site


@bp.get("/sites/<site_key>/policy")
@admin_required
def get_policy(site_key: str):
    site = _site(site_key)
    history = _history(site.id)
    bins = np.linspace(0, 1, 21)
    distributions = {
        name: np.histogram(values[~np.isnan(values)], bins=bins)[0].tolist()
        for name, values in history.scores.items()
    }
    return jsonify({**policy_json(current_policy(db.session, site.id)), "distributions": distributions,
                    "bins": bins.round(2).tolist()})


@bp.post("/sites/<site_key>/policy/replay")
@admin_required
def replay_policy(site_key: str):
    site = _site(site_key)
    candidate = PolicyIn.model_validate(json_object()).rules()
    current = rules_of(current_policy(db.session, site.id))
    result = replay(candidate, current, _history(site.id))
    return jsonify({**result.__dict__, "diff": policy_diff(current, candidate)})


@bp.post("/sites/<site_key>/policy")
@admin_required
def save(site_key: str):
    site = _site(site_key)
    rules = PolicyIn.model_validate(json_object()).rules()
    policy, diff = save_policy(db.session, site.id, rules, current_user())
    db.session.commit()
    return jsonify({**policy_json(policy), "diff": diff}), 201


@bp.get("/sites/<site_key>/policy/versions")
@admin_required
def versions(site_key: str):
    site = _site(site_key)
    policies = db.session.query(Policy).filter(Policy.site_id == site.id).order_by(Policy.version).all()
    history = []
    for previous, policy in zip([None, *policies], policies):
        diff = policy_diff(rules_of(previous), rules_of(policy)) if previous else ["first version"]
        history.append({**policy_json(policy), "diff": diff})
    return jsonify({"versions": list(reversed(history))})


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    origins: list[str] | None = Field(default=None, max_length=100)
    closed: bool | None = None


def site_json(site) -> dict:
    return {"name": site.name, "public_key": site.public_key, "origins": site.origin_urls, "closed": site.closed}


def _changed(site) -> None:
    db.session.commit()
    current_app.extensions["modqueue.site_cache"].forget(site.public_key)


@bp.post("/sites")
@admin_required
def create():
    data = SiteIn.model_validate(json_object())
    if not data.name or not data.origins:
        raise APIError(422, "validation_failed", "a site needs a name and origins",
                       {"name": "required", "origins": "at least one"})
    try:
        site = create_site(db.session, data.name, data.origins, created_by=current_user().email)
    except InvalidOrigin as exc:
        raise APIError(422, "validation_failed", str(exc), {"origins": str(exc)}) from None
    db.session.commit()
    return jsonify(site_json(site)), 201


@bp.patch("/sites/<site_key>")
@admin_required
def update(site_key: str):
    site = _site(site_key)
    data = SiteIn.model_validate(json_object())
    if data.name is not None:
        site.name = data.name
    if data.closed is not None:
        site.closed = data.closed
    if data.origins is not None:
        try:
            set_origins(site, data.origins)
        except InvalidOrigin as exc:
            raise APIError(422, "validation_failed", str(exc), {"origins": str(exc)}) from None
    _changed(site)
    return jsonify(site_json(site))


@bp.post("/sites/<site_key>/rotate-key")
@admin_required
def rotate(site_key: str):
    site = _site(site_key)
    rotate_key(site)
    db.session.commit()
    current_app.extensions["modqueue.site_cache"].forget(site_key)
    return jsonify(site_json(site))


@bp.put("/sites/<site_key>/moderators")
@admin_required
def moderators(site_key: str):
    site = _site(site_key)
    emails = json_object().get("emails")
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise APIError(422, "validation_failed", "emails must be a list", {"emails": "a list of emails"})
    users = db.session.query(User).filter(User.email.in_([e.strip().lower() for e in emails])).all()
    if len(users) != len(set(e.strip().lower() for e in emails)):
        raise APIError(422, "validation_failed", "unknown account", {"emails": "every email must be an account"})
    for user in db.session.query(User).filter(User.sites.contains(site)).all():
        if user not in users:
            user.sites.remove(site)
    for user in users:
        if site not in user.sites:
            user.sites.append(site)
    db.session.commit()
    return jsonify({"moderators": sorted(u.email for u in users)})


@bp.post("/sites/<site_key>/articles/<path:article_id>/closed")
@admin_required
def close_article(site_key: str, article_id: str):
    site = _site(site_key)
    closed = json_object().get("closed", True)
    if not isinstance(closed, bool):
        raise APIError(422, "validation_failed", "closed must be true or false", {"closed": "a boolean"})
    set_article_closed(db.session, site, article_id, closed)
    _changed(site)
    return jsonify({"article_id": article_id, "closed": closed})


@bp.get("/sites/<site_key>/stats")
@admin_required
def stats(site_key: str):
    site = _site(site_key)
    try:
        days = min(max(int(request.args.get("days", 30)), 1), 366)
    except ValueError:
        raise APIError(422, "validation_failed", "days must be a number", {"days": "1-366"}) from None
    return jsonify(site_stats(db.session, site.id, days))


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["api_key", "coral_secret"]
    name: str = Field(min_length=1, max_length=100)
    #: Coral's signing secret, pasted from Coral; omitted, modqueue makes one.
    secret: str | None = Field(default=None, max_length=200)


@bp.get("/sites/<site_key>/credentials")
@admin_required
def credentials(site_key: str):
    """The site's API keys and Coral signing secrets (never the keys themselves; a few characters of each)."""
    site = _site(site_key)
    return jsonify({"credentials": [credential_json(c) for c in list_credentials(db.session, site)]})


@bp.post("/sites/<site_key>/credentials")
@admin_required
def create_credential(site_key: str):
    """Create an API key (Perspective, Akismet) or add a Coral signing secret; the secret is shown once."""
    site = _site(site_key)
    data = CredentialIn.model_validate(json_object())
    secret_given = (data.secret or "").strip() or None
    try:
        if data.kind == "api_key":
            if secret_given is not None:
                raise CredentialError("API keys are generated by modqueue; leave secret out")
            credential, secret = create_api_key(db.session, site, data.name, created_by=current_user().email)
        else:
            credential, secret = add_coral_secret(db.session, site, data.name, secret_given,
                                                  created_by=current_user().email)
    except CredentialError as exc:
        raise APIError(422, "validation_failed", str(exc), {"secret": str(exc)}) from None
    db.session.commit()
    return jsonify({**credential_json(credential), "secret": secret}), 201


@bp.delete("/sites/<site_key>/credentials/<int:credential_id>")
@admin_required
def revoke_credential_view(site_key: str, credential_id: int):
    site = _site(site_key)
    if not revoke_credential(db.session, site, credential_id):
        raise APIError(404, "unknown_credential", "no active credential of this site has this id")
    db.session.commit()
    return "", 204
