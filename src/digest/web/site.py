"""What makes the public pages a site: robots.txt, sitemap.xml and the favicon. (Unknown
addresses get a page of the site from fallback.py; an API or webhook client still gets JSON.)"""

from __future__ import annotations

import io
from functools import lru_cache
from xml.etree import ElementTree as ET

from fastapi import APIRouter
from fastapi.responses import Response

from digest import issues
from digest.web.deps import ReadSessionDep, SettingsDep

router = APIRouter(tags=["site"])

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
CACHED = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
# Pages behind a reader's token, the editor and the machine endpoints are nobody's search result.
PRIVATE = ("/confirm/", "/unsubscribe", "/preferences", "/data/", "/editor", "/api/", "/webhooks/")
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="14" fill="#14181f"/>'
    '<path d="M17 33l10 10 20-22" fill="none" stroke="#5fd39a" stroke-width="8" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


@router.get("/robots.txt")
def robots(settings: SettingsDep) -> Response:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in PRIVATE), "Allow: /", ""]
    lines.append(f"Sitemap: {settings.base_url}/sitemap.xml")
    return Response("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8", headers=CACHED)


@router.get("/sitemap.xml")
def sitemap(session: ReadSessionDep, settings: SettingsDep) -> Response:
    ET.register_namespace("", SITEMAP)
    urlset = ET.Element(f"{{{SITEMAP}}}urlset")
    _url(urlset, f"{settings.base_url}/", None)
    _url(urlset, f"{settings.base_url}/issues", None)
    for issue in issues.list_published(session):
        stamp = issue.frozen_at.date().isoformat() if issue.frozen_at else None
        _url(urlset, f"{settings.base_url}/issues/{issue.number}", stamp)
    body = ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/xml; charset=utf-8", headers=CACHED)


def _url(urlset: ET.Element, location: str, lastmod: str | None) -> None:
    entry = ET.SubElement(urlset, f"{{{SITEMAP}}}url")
    ET.SubElement(entry, f"{{{SITEMAP}}}loc").text = location
    if lastmod:
        ET.SubElement(entry, f"{{{SITEMAP}}}lastmod").text = lastmod


@router.get("/favicon.svg")
def favicon_svg() -> Response:
    return Response(FAVICON_SVG, media_type="image/svg+xml", headers=CACHED)


@router.get("/favicon.ico")
def favicon_ico() -> Response:
    return Response(_favicon_ico(), media_type="image/x-icon", headers=CACHED)


@lru_cache(maxsize=1)
def _favicon_ico() -> bytes:
    """The same mark as the SVG, drawn as a 32x32 icon for clients that only ask /favicon.ico."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 31, 31), radius=7, fill="#14181f")
    draw.line([(9, 17), (14, 22), (24, 11)], fill="#5fd39a", width=4, joint="curve")
    out = io.BytesIO()
    image.save(out, format="ICO", sizes=[(32, 32), (16, 16)])
    return out.getvalue()
