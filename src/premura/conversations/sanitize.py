"""HTML from customers and providers, made safe to show before it is stored."""

from __future__ import annotations

import nh3

# Only http(s), mailto, tel and inline cid: links survive; javascript:, data: and the rest are dropped.
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def sanitize_html(html: str) -> str:
    """Strip scripts, event handlers, styles and dangerous URLs from HTML, keeping its structure."""
    if not html:
        return ""
    return nh3.clean(
        html,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
