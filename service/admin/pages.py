"""Admin pages: the sites list and each site's policy editor with its what-if preview."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy.orm import selectinload

from service.accounts.auth import current_user
from service.accounts.models import User
from service.dashboard.views import signed_in
from service.compat.credentials import list_credentials
from service.extensions import db
from service.moderation.policy import SCORE_ATTRIBUTES
from service.sites.models import Site
from service.sites.operations import current_policy, find_site

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _admin():
    user = current_user()
    if not user.is_admin:
        abort(403)
    return user


@bp.get("/")
@signed_in
def sites():
    user = _admin()
    sites = db.session.query(Site).options(selectinload(Site.origins)).order_by(Site.name).all()
    return render_template("admin/sites.html", user=user, sites=sites)


@bp.get("/sites/<site_key>/policy")
@signed_in
def policy(site_key: str):
    user = _admin()
    site = find_site(db.session, site_key) or abort(404)
    return render_template("admin/policy.html", user=user, site=site, policy=current_policy(db.session, site.id),
                           attributes=SCORE_ATTRIBUTES)


@bp.get("/sites/<site_key>")
@signed_in
def site(site_key: str):
    user = _admin()
    found = find_site(db.session, site_key) or abort(404)
    moderators = db.session.query(User).filter(User.role == "moderator").order_by(User.email).all()
    return render_template("admin/site.html", user=user, site=found, moderators=moderators,
                           credentials=list_credentials(db.session, found))


@bp.get("/sites/<site_key>/stats")
@signed_in
def stats(site_key: str):
    from service.admin.stats import site_stats

    user = _admin()
    found = find_site(db.session, site_key) or abort(404)
    figures = site_stats(db.session, found.id, 30)
    peak = max([sum(c.values()) for c in figures["comments_by_day"].values()] + [1])
    return render_template("admin/stats.html", user=user, site=found, stats=figures, peak=peak)
