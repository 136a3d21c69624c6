"""City profiles: each regulation's catalog, bands and articles, loaded from ``rules/profiles/*.toml``.

A profile is data: a third city is a new TOML file beside the two here, not new code.  Parse a
profile once (``load_profile``) and pass it down; it is immutable.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from rules.errors import ProfileError

__all__ = ["Bands", "CatalogItem", "Profile", "available_profiles", "load_profile"]


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    article: str
    points: int
    text: str  # the regulation's own wording


@dataclass(frozen=True, slots=True)
class Bands:
    """Thresholds and durations; absent bands are ``0`` (the profile does not have them)."""

    interview_points: int = 0
    suspend_months: tuple[tuple[int, int], ...] = ()  # (points at the crossing, months), ascending
    terminate_points: int = 0
    terminate_ban_years: int = 1
    one_shot_points: int = 0
    one_shot_ban_years: int = 1
    # 衢州 第二十一条 "1-5年内不得": the longest ban an officer's termination may set (its shortest is
    # ``terminate_ban_years``); 0: the profile bounds no ban.
    one_shot_ban_years_max: int = 0
    consecutive_years: int = 0
    consecutive_points: int = 0
    restoration_working_days: int = 0
    settlement_suspension_points: int = 12
    # 衢州 第二十七条: an appeal within N working days of the notice, decided within M of filing;
    # 0: the profile has no appeal procedure.
    appeal_filing_working_days: int = 0
    appeal_decision_working_days: int = 0


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    city: str
    title: str
    document: str
    in_force_from: date
    auto_sanctions: bool
    counting: str  # "every_occurrence" (衢州) | "per_case" (苏州 第十四条)
    year_points: int
    bands: Bands
    items: dict[str, CatalogItem] = field(hash=False)
    articles: dict[str, str] = field(hash=False)  # sanction action -> article
    reasons: dict[str, str] = field(hash=False)  # reason code -> basis
    # Points are deducted from ``year_points`` and the rest is reported (衢州 第十六条 初始分值 12 分);
    # a profile that only adds points up (苏州 第七条) reports no remainder.
    report_remaining: bool = False
    # 苏州 第十六条 "应当同时明确中止的期限": a settlement suspension must be imported with its end.
    settlement_suspend_requires_end: bool = False

    def item(self, item_id: str) -> CatalogItem:
        try:
            return self.items[item_id]
        except KeyError:
            raise ProfileError(f"item {item_id!r} is not in the {self.name} catalog") from None

    def article_for(self, action: str) -> str:
        return self.articles.get(action, "")

    def basis_for(self, reason: str) -> str | None:
        return self.reasons.get(reason)


def available_profiles() -> list[str]:
    folder = resources.files("rules") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


@cache
def load_profile(name: str) -> Profile:
    """The profile called ``name``; ``ProfileError`` naming the known ones if there is none."""
    resource = resources.files("rules") / "profiles" / f"{name}.toml"
    if not resource.is_file():
        raise ProfileError(f"unknown profile {name!r}; known: {', '.join(available_profiles())}")
    raw = tomllib.loads(resource.read_text(encoding="utf-8"))
    try:
        return _build(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"profile {name!r} is malformed: {exc}") from exc


def _build(raw: dict[str, Any]) -> Profile:
    bands_raw = dict(raw.get("bands", {}))
    months = bands_raw.pop("suspend_months", {})
    bands = Bands(
        suspend_months=tuple(sorted((int(k), int(v)) for k, v in months.items())),
        **{k: int(v) for k, v in bands_raw.items()},
    )
    items: dict[str, CatalogItem] = {}
    for entry in raw["items"]:
        item = CatalogItem(str(entry["id"]), str(entry["article"]), int(entry["points"]), str(entry["text"]))
        if item.id in items:
            raise ValueError(f"item {item.id} appears twice")
        items[item.id] = item
    counting = str(raw["counting"])
    if counting not in ("every_occurrence", "per_case"):
        raise ValueError(f"counting must be every_occurrence or per_case, not {counting!r}")
    return Profile(
        name=str(raw["name"]),
        city=str(raw["city"]),
        title=str(raw["title"]),
        document=str(raw["document"]),
        in_force_from=date.fromisoformat(str(raw["in_force_from"])),
        auto_sanctions=bool(raw["auto_sanctions"]),
        counting=counting,
        year_points=int(raw["year_points"]),
        bands=bands,
        items=items,
        articles={str(k): str(v) for k, v in raw.get("articles", {}).items()},
        reasons={str(k): str(v) for k, v in raw.get("reasons", {}).items()},
        report_remaining=bool(raw.get("report_remaining", False)),
        settlement_suspend_requires_end=bool(raw.get("settlement_suspend_requires_end", False)),
    )
