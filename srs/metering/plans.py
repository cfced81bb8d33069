"""The plans, defined once: the API shows them and the quota enforces them from here."""

from __future__ import annotations

from dataclasses import dataclass

from srs.kit.settings import Settings


@dataclass(frozen=True)
class Plan:
    name: str
    title: str
    cards_per_period: int
    active_topics: int | None  # None: unlimited


def plans(settings: Settings) -> dict[str, Plan]:
    return {
        "free": Plan("free", "Free", settings.plan_free_cards, settings.plan_free_topics),
        "pro": Plan("pro", "Pro", settings.plan_pro_cards, None),
    }


def plan_named(settings: Settings, name: str) -> Plan:
    try:
        return plans(settings)[name]
    except KeyError:
        known = ", ".join(plans(settings))
        raise ValueError(f"unknown plan {name!r} (known plans: {known})") from None
