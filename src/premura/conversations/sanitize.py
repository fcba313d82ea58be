"""HTML from customers and providers, made safe to show before it is stored."""

from __future__ import annotations

import nh3

# Only http(s), mailto, tel and inline cid: links survive; javascript:, data: and the rest are dropped.
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
# nh3's safe attributes, plus the marker a channel puts around a quoted reply (display folds it).
_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES.setdefault("div", set()).add("data-quoted")


def sanitize_html(html: str) -> str:
    """Strip scripts, event handlers, styles and dangerous URLs from HTML, keeping its structure."""
    if not html:
        return ""
    return nh3.clean(
        html,
        url_schemes=_URL_SCHEMES,
        attributes=_ATTRIBUTES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
