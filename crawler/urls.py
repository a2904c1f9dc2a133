"""URL canonicalisation: one spelling per article, so an article is fetched and stored once.

``canonicalize_url`` is deliberately conservative: it only removes what never selects different
content (tracking parameters, fragments, default ports, letter case of scheme and host). It
does not guess that ``/index.html`` equals ``/`` or that ``www.`` is optional, because on real
sites both sometimes serve different pages; and it does not turn an AMP URL into the article
URL, because the mapping differs per site: the AMP page's ``rel=canonical`` says where the
article lives, and the pipeline stores under that.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

__all__ = [
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "canonicalize_url",
    "host_of",
    "is_amp_url",
    "is_http_url",
    "same_host",
    "absolute",
    "Domains",
    "choose_canonical",
]

# Query parameters that only say where a click came from. Lower-case; compared case-insensitively.
TRACKING_PARAMS: frozenset[str] = frozenset({
    # Google / Meta / Microsoft / other ad click ids
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "ttclid", "li_fat_id", "igshid", "igsh",
    # mail campaign tools (Mailchimp, Marketo, HubSpot, Vero, Oracle Eloqua)
    "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",
    "vero_id", "vero_conv", "elqtrackid", "elqtrack", "elq", "elqcampaignid",
    # analytics cookies passed in URLs
    "_ga", "_gl", "_openstat",
    # publishers' own referral/campaign codes
    # (never short generic names such as "id", "cid", "src" or "from": on some sites they
    # select the article itself)
    "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp", "ncid", "ocid", "icid", "intcmp",
    "int_cmp", "smid", "smtyp", "sr_share", "spm", "wt.mc_id", "at_medium", "at_campaign",
    "at_custom1", "at_custom2", "at_custom3", "at_custom4",
})
# Any parameter starting with one of these is tracking (utm_source, utm_medium, …; pk_/piwik_
# are Matomo's campaign parameters).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "piwik_", "mtm_", "hmb_", "oly_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that stay unescaped in a path / query; everything else is percent-encoded, and
# existing escapes are normalised (upper-case hex, unreserved characters decoded).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_AMP_PATH = re.compile(r"(?:^|/)amp(?:/|$)|\.amp(?:\.html?)?$|/amp\.html?$", re.IGNORECASE)


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def host_of(url: str) -> str:
    """Lower-case host name without port ('' when there is none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def same_host(a: str, b: str) -> bool:
    return host_of(a) == host_of(b) != ""


def absolute(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``, without its fragment; None if it is not http(s)."""
    href = (href or "").strip()
    if not href or href.startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
        return None
    try:
        url = urljoin(base, href)
    except ValueError:
        return None
    url = url.split("#", 1)[0]
    return url if is_http_url(url) else None


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _norm_escapes(component: str, safe: str) -> str:
    # Decode then re-encode so that %7e, ~ and %7E end up the same, while an escaped "/" or "?"
    # (which changes meaning when decoded) stays escaped.
    out = []
    for segment in re.split(r"(%2[fF]|%3[fF]|%23|%25)", component):
        if re.fullmatch(r"%2[fF]|%3[fF]|%23|%25", segment):
            out.append(segment.upper())
        else:
            # surrogateescape: escapes of non-UTF-8 bytes (old Shift_JIS URLs) survive unchanged
            text = unquote(segment, errors="surrogateescape")
            out.append(quote(text, safe=safe.replace("%", ""), errors="surrogateescape"))
    return "".join(out)


def canonicalize_url(url: str) -> str:
    """The one spelling of ``url`` under which an article is looked up and stored.

    - scheme and host lower-cased; IDN hosts kept as given (punycode stays punycode);
    - default ports (:80 for http, :443 for https) and empty user info dropped;
    - the fragment dropped;
    - tracking parameters dropped (``TRACKING_PARAMS``, ``TRACKING_PREFIXES``; including a
      bare ``?amp`` flag, which only selects the AMP rendering of the same article);
    - the remaining query parameters sorted (stable for repeated names), blank values kept;
    - percent-escapes normalised; dot segments (``/a/../b``) resolved; an empty path is ``/``.

    Kept on purpose: trailing slashes, ``index.html``, ``www.``, and letter case in the path;
    sites differ on whether those are the same page.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username:
        auth = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{auth}@{netloc}"

    path = parts.path or "/"
    if "/." in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and not path.endswith("/"):
            path += "/"
    path = _norm_escapes(path, _PATH_SAFE)

    pairs = parse_qsl(parts.query, keep_blank_values=True, errors="surrogateescape")
    kept = [(k, v) for k, v in pairs if not _is_tracking(k) and k.lower() != "amp"]
    kept.sort(key=lambda kv: kv[0])
    query = urlencode(kept, quote_via=quote, safe="/:@!$'()*,;~", errors="surrogateescape")
    return urlunsplit((scheme, netloc, path, query, ""))


def is_amp_url(url: str) -> bool:
    """Whether ``url`` looks like an AMP rendering (``/amp/`` path, ``.amp``, ``?amp``,
    ``amp.`` host). Used only to prefer the non-AMP copy when both are candidates; what is
    stored is decided by the page's rel=canonical."""
    parts = urlsplit(url)
    if (parts.hostname or "").startswith("amp."):
        return True
    if _AMP_PATH.search(parts.path):
        return True
    return any(k.lower() in ("amp", "outputtype") and (k.lower() == "amp" or v.lower() == "amp")
               for k, v in parse_qsl(parts.query, keep_blank_values=True))


@dataclass(frozen=True, slots=True)
class Domains:
    """Where one source's pages live: ``domains`` and their subdomains, plus the exact
    ``hosts`` (a feed on a CDN host does not make the whole CDN the source's)."""

    domains: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def of_page(cls, url: str) -> Domains:
        """A page known by itself: its own host and that host's subdomains."""
        return cls(domains=(host_of(url),))

    def allows(self, url: str) -> bool:
        host = host_of(url)
        if not host:
            return False
        return any(host == d or host.endswith("." + d) for d in self.domains) or host in self.hosts


def choose_canonical(page_url: str, declared: Iterable[str | None], domains: Domains) -> str:
    """The URL an article is stored under: the first URL the page declares for itself
    (rel=canonical, then og:url) that lies on its source's ``domains``, else the fetched URL;
    canonicalised either way. This is the one rule, applied once, at extraction.

    An AMP copy names its article this way. A declared URL on another site (a syndicated copy
    naming the original) is not followed: that would merge two outlets' articles under one id.
    Nor is one that points at the home page from an article page: that is a template error,
    and following it would merge every article into one."""
    page_path = urlsplit(page_url).path
    for ref in declared:
        url = absolute(page_url, ref or "")
        if url is None or not domains.allows(url):
            continue
        if urlsplit(url).path in ("", "/") and page_path not in ("", "/"):
            continue
        return canonicalize_url(url)
    return canonicalize_url(page_url)
