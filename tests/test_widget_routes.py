"""The widget script and the demo page are served."""

from __future__ import annotations

from service.sites.operations import create_site
from service.widget.views import DEMO_SITE


def test_embed_js_is_served_as_javascript_and_small(client):
    with client.get("/embed.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert len(response.data) < 20_000
        assert b"attachShadow" in response.data


def test_demo_page_embeds_the_widget_for_the_demo_site(client, db_session):
    assert client.get("/demo").status_code == 404
    site = create_site(db_session, DEMO_SITE, ["http://localhost:5000"])
    db_session.commit()

    page = client.get("/demo").get_data(as_text=True)

    assert f'data-site="{site.public_key}"' in page
    assert '<script src="/embed.js" async></script>' in page
