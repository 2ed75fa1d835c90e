"""Why a delivery failed, from its status code and the words around it: hard, soft or unknown.

Words win over codes: servers send 5.1.1 for a full mailbox and 5.0.0 for "user unknown". The
address is taken as dead (HARD) only when the words or a mailbox/domain status say so; any
other failure, permanent or not (full, too big, spam, policy, reputation, timeouts), is SOFT.
All patterns are plain alternatives without nested repetition, run on capped, lower-cased text.
"""

from __future__ import annotations

import re

from digest.bounces.kinds import BounceKind

SOFT_WORDS = re.compile(
    "|".join(
        [
            r"mailbox (?:is )?full",
            r"over ?quota",
            r"quota (?:exceeded|full|limit)",
            r"exceed(?:s|ed)? (?:the |his |her |their )?(?:storage|quota|mailbox|size)",
            r"insufficient (?:system )?storage",
            r"(?:mailbox|storage|disk) (?:size )?(?:limit|space)",
            r"out of (?:storage|disk)",
            r"full mailbox",
            r"(?:message|mail) (?:is )?too (?:large|big)",
            r"size (?:limit|exceed)",
            r"temporar",
            r"try (?:again|later)",
            r"retry time",
            r"timed? ?out",
            r"expired",
            r"deferred",
            r"greylist",
            r"too many",
            r"rate limit",
            r"throttl",
            r"spam",
            r"blocked",
            r"black ?list",
            r"block ?list",
            r"\b(?:dns)?rbl\b",
            r"reputation",
            r"policy",
            r"not (?:permitted|authori[sz]ed|allowed)",
            r"access denied",
            r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited)",
            r"\b(?:dmarc|spf|dkim)\b[^\n]{0,40}(?:fail|policy|check)",
            r"ptr record|reverse dns|\brdns\b",
            r"authentication (?:required|failed)",
            r"content (?:rejected|filter)",
            r"virus",
            r"suspended",
            r"disabled",
            r"inactive",
            r"mailer error",
            r"command (?:died|failed)",
            r"sender (?:address|domain)",
            r"domain of sender",
        ]
    )
)
HARD_WORDS = re.compile(
    "|".join(
        [
            r"user unknown",
            r"unknown (?:user|local|recipient|address|mailbox|account)",
            r"no such (?:user|mailbox|recipient|address|account|person|local|domain|host)",
            r"(?:user|mailbox|recipient|address|account)(?: name)? (?:does not|doesn't) exist",
            r"does not exist",
            r"doesn't exist",
            r"doesn't have an? [a-z0-9.-]{1,60} account",
            r"(?:mailbox|recipient|user|address|account) (?:not found|unavailable|is unavailable)",
            r"invalid (?:recipient|mailbox|address|user)",
            r"not a valid (?:mailbox|recipient|user|address)",
            r"no mailbox (?:here|by that name)",
            r"unrouteable address",
            r"(?:recipient|user|address) (?:name )?is not recognized",
            r"account (?:has been )?(?:closed|deleted|removed|terminated)",
            r"host (?:or domain name )?not found",
            r"(?:host|domain) unknown",
            r"unknown (?:host|domain)",
            r"domain (?:not found|name not found)",
            r"name or service not known",
            r"nxdomain",
            r"has moved",
            r"not our (?:user|customer)",
            r"recip(?:ient)?notfound",
            r"recipient not found",
            r"mailbox unavailable",
            r"domain (?:is )?not valid",
            r"invalid domain",
        ]
    )
)
# Said by one provider for "no such user", though its words look like a policy refusal
# (Microsoft 365 directory-based edge blocking: 550 5.4.1 ... Access denied).
HARD_FIRST = re.compile(r"recipient address rejected: access denied|domain is not reachable")
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# Mailbox and address statuses that mean "no such address": bad mailbox or destination,
# moved, no such domain (RFC 3463 X.1.1, X.1.2, X.1.3, X.1.6, X.1.10; X.4.4 unable to route).
DEAD_STATUSES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.4.4"})
REPLY_CODE = re.compile(r"(?<!\d)[45][0-5]\d(?![\d.])")
MAX_SCAN = 16_000


def status_in(text: str) -> str:
    """The first enhanced status code in `text` ("5.1.1"), or ""."""
    match = STATUS.search(text[:MAX_SCAN])
    return ".".join(match.groups()) if match else ""


def word_kind(text: str) -> BounceKind | None:
    """SOFT or HARD when the words say which, else None."""
    lowered = text[:MAX_SCAN].lower()
    if SOFT_WORDS.search(lowered):
        return BounceKind.SOFT
    if HARD_WORDS.search(lowered):
        return BounceKind.HARD
    return None


def judge(status: str, *texts: str, final: bool = True) -> BounceKind:
    """The kind of one failure from its enhanced status ("" if none) and what the servers said,
    the most specific text first. `final` is False for a warning (delayed): SOFT at most."""
    if not final:
        return BounceKind.SOFT
    scanned = [text[:MAX_SCAN].lower() for text in texts]
    if any(HARD_FIRST.search(text) for text in scanned):
        return BounceKind.HARD
    # A soft reason anywhere beats a hard one: "user unknown" from a filter that was really
    # out of disk space must not lose a reader for good; SOFT is counted, then suppresses.
    if any(SOFT_WORDS.search(text) for text in scanned):
        return BounceKind.SOFT
    if any(HARD_WORDS.search(text) for text in scanned):
        return BounceKind.HARD
    if status in DEAD_STATUSES:
        return BounceKind.HARD
    if status[:1] in ("4", "5") or any(REPLY_CODE.search(t[:MAX_SCAN]) for t in texts):
        return BounceKind.SOFT
    return BounceKind.UNKNOWN
