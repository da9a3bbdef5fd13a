"""Validation of public API input, and the JSON shapes of comments."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator

from service.comments.models import Comment

# Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) and lone surrogates, found by one
# regular expression search rather than a look-up per character; a body may hold newlines and tabs.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def reject_control_characters(value: str, *, multiline: bool) -> str:
    """Refuse control characters and lone surrogates; only a body may hold newlines and tabs."""
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED).search(value)
    if found is None:
        return value
    if "\ud800" <= found.group() <= "\udfff":
        raise ValueError("contains an invalid character (lone surrogate)")
    raise ValueError(f"contains a control character (U+{ord(found.group()):04X})")


def _single_line(value: str) -> str:
    return reject_control_characters(value, multiline=False).strip()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class ArticleIn(_Strict):
    id: StrictStr = Field(min_length=1, max_length=200)
    url: StrictStr | None = Field(default=None, max_length=2000)
    title: StrictStr | None = Field(default=None, max_length=300)

    _lines = field_validator("id", "title")(lambda v: _single_line(v) if v is not None else v)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _single_line(value)
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class AuthorIn(_Strict):
    name: StrictStr = Field(min_length=1, max_length=80)
    email: StrictStr | None = Field(default=None, max_length=254)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = _single_line(value)
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = _single_line(value)
        local, _, domain = value.rpartition("@")
        if not local or "." not in domain or " " in value:
            raise ValueError("must be an email address")
        return value


class CommentIn(_Strict):
    site: StrictStr = Field(min_length=1, max_length=64)
    article: ArticleIn
    author: AuthorIn
    body: StrictStr = Field(min_length=1)
    parent_id: StrictStr | None = Field(default=None, max_length=26)
    # The widget renders this field hidden; people leave it empty, form-filling bots do not.
    honeypot: StrictStr | None = Field(default=None, max_length=2000)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str, info: ValidationInfo) -> str:
        value = reject_control_characters(value.replace("\r\n", "\n").replace("\r", "\n"), multiline=True).strip()
        if not value:
            raise ValueError("must not be blank")
        limit = (info.context or {}).get("max_body_chars", 10_000)
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    def fingerprint(self) -> str:
        """Hash of the request's content, to tell a retry from a different request under one key."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()


class ReportIn(_Strict):
    reason: Literal["spam", "abuse", "off_topic", "other"]
    note: StrictStr | None = Field(default=None, max_length=1000)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return reject_control_characters(value, multiline=True).strip() or None if value is not None else None


def comment_json(comment: Comment) -> dict:
    """The public view of one comment (no email, no scores)."""
    return {
        "id": comment.id,
        "status": comment.status,
        "body": comment.body,
        "author": {"name": comment.author_name},
        "article_id": comment.article.external_id,
        "parent_id": comment.parent_id,
        "created_at": comment.created_at.isoformat(),
    }


def thread_json(comments: list[Comment]) -> list[dict]:
    """Nest published comments under their parents; a reply whose parent is hidden moves to the top level."""
    nodes = {c.id: {**comment_json(c), "replies": []} for c in comments}
    roots = []
    for comment in comments:
        parent = nodes.get(comment.parent_id) if comment.parent_id else None
        (parent["replies"] if parent else roots).append(nodes[comment.id])
    return roots
