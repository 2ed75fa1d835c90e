"""Who is asking, judged by the user agent and address alone: scanners and headless browsers,
and the image proxies that fetch a pixel for a reader (never a sign the reader looked)."""

from __future__ import annotations

import ipaddress
import re

# Security gateways, link checkers, HTTP libraries and headless browsers.
_MACHINE = re.compile(
    r"headless|phantomjs|puppeteer|playwright|selenium|electron/|bot\b|bot/|crawler|spider|"
    r"scanner|urlscan|python-|python/|curl/|wget/|go-http-client|java/|okhttp|libwww|httpclient|"
    r"axios/|node-fetch|barracuda|mimecast|proofpoint|forcepoint|fireeye|trendmicro|symantec|"
    r"sophos|cisco|ironport|zscaler|existence discovery|safelinks|preview",
    re.IGNORECASE,
)
# Gmail's and Yahoo's image proxies name themselves; Apple Mail Privacy Protection fetches from
# Apple's 17.0.0.0/8 with a bare WebKit agent (no Safari/Version), so both are checked.
_PROXY = re.compile(r"googleimageproxy|ggpht\.com|yahoomailproxy|outlook-iOS-Android", re.I)
_APPLE_BARE = re.compile(r"AppleWebKit/[\d.]+ \(KHTML, like Gecko\)$")
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")


def is_machine(user_agent: str) -> bool:
    """A scanner, a library or a headless browser; an empty agent is a machine too."""
    return not user_agent.strip() or bool(_MACHINE.search(user_agent))


def is_image_proxy(user_agent: str, ip: str) -> bool:
    if _PROXY.search(user_agent) or _APPLE_BARE.search(user_agent.strip()):
        return True
    try:
        return ipaddress.ip_address(ip) in _APPLE_NETWORK
    except ValueError:
        return False
