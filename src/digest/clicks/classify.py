"""Tell machines' hits from people's, over all of an issue's hits at once. Pure.

A hit is a machine's if it carries a hit signal (record.Signal), or if its client (the keyed
hash of IP and user agent) ever did something only a machine does (followed the canary, sent
a HEAD, named itself a scanner, came before the delivery), or swept: hit SWEEP_LINKS distinct
links within SWEEP_SECONDS. Gateways rotate addresses between requests, so the same is judged
per delivery too, but only within BURST_SECONDS of the machine's hit: the reader of that email
clicking an hour later is still a person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.clicks.keys import PIXEL

SWEEP_LINKS = 3
SWEEP_SECONDS = 1.0
BURST_SECONDS = 2.0
# Signals that brand the whole client; a proxy fetch or a missing tag does not.
MACHINE_SIGNALS = frozenset({"head", "agent", "canary", "early"})


@dataclass(frozen=True)
class Hit:
    link_id: int
    delivery_hash: str | None
    client_hash: str
    at: datetime
    signals: frozenset[str]


def machine_hits(hits: Sequence[Hit]) -> list[bool]:
    """For each hit, True if it is a machine's."""
    branded = branded_clients(hits)
    bursts = machine_moments(hits)
    return [
        bool(hit.signals - {"proxy"})
        or hit.client_hash in branded
        or in_burst(hit, bursts.get(hit.delivery_hash, ()))
        for hit in hits
    ]


def branded_clients(hits: Sequence[Hit]) -> set[str]:
    branded = {hit.client_hash for hit in hits if hit.signals & MACHINE_SIGNALS}
    by_client: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.link_id != PIXEL:
            by_client[hit.client_hash].append(hit)
    branded.update(client for client, own in by_client.items() if swept(own))
    return branded


def machine_moments(hits: Sequence[Hit]) -> dict[str | None, list[datetime]]:
    """Per delivery, when machine signals or sweeps were seen on it."""
    moments: dict[str | None, list[datetime]] = defaultdict(list)
    by_delivery: dict[str | None, list[Hit]] = defaultdict(list)
    for hit in hits:
        if hit.delivery_hash is None or hit.link_id == PIXEL:
            continue
        by_delivery[hit.delivery_hash].append(hit)
        if hit.signals & MACHINE_SIGNALS:
            moments[hit.delivery_hash].append(hit.at)
    for delivery, own in by_delivery.items():
        moments[delivery].extend(sweep_starts(own))
    return moments


def swept(hits: Iterable[Hit]) -> bool:
    return bool(sweep_starts(hits))


def sweep_starts(hits: Iterable[Hit]) -> list[datetime]:
    """Moments at which SWEEP_LINKS distinct links were hit within SWEEP_SECONDS."""
    ordered = sorted(hits, key=lambda hit: hit.at)
    starts = []
    for index, first in enumerate(ordered):
        links = set()
        for later in ordered[index:]:
            if (later.at - first.at).total_seconds() > SWEEP_SECONDS:
                break
            links.add(later.link_id)
        if len(links) >= SWEEP_LINKS:
            starts.append(first.at)
    return starts


def in_burst(hit: Hit, moments: Iterable[datetime]) -> bool:
    return any(abs((hit.at - moment).total_seconds()) <= BURST_SECONDS for moment in moments)
