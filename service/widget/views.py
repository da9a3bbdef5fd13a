"""The embeddable widget (`/embed.js`) and the demo article page (`/demo`)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_from_directory
from sqlalchemy import select

from service.extensions import db
from service.sites.models import Site

bp = Blueprint("widget", __name__, static_folder="static", template_folder="templates")
DEMO_SITE = "Demo site"
DEMO_ARTICLE = "demo-article"


@bp.get("/embed.js")
def embed_js():
    response = send_from_directory(bp.static_folder, "embed.js", mimetype="text/javascript", max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/demo")
def demo():
    site = db.session.scalar(select(Site).where(Site.name == DEMO_SITE))
    if site is None:
        abort(404, "no demo site: `modqueue dev` creates one")
    return render_template("widget/demo.html", site_key=site.public_key, article_id=DEMO_ARTICLE)
