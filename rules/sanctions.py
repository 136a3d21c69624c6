"""Computed sanctions: the bands of 衢州 第二十一条 applied to the ledger, for profiles with
``auto_sanctions = true``.  The bands themselves are profile data (``[bands]``).

Within each calendar year the violations are taken in ``(scored_on, id)`` order and the running
total is followed; a sanction is dated by the ``scored_on`` of the violation whose points make
the total reach its band, and each band fires at most once a year:

- ``interview_points`` (6) → ``interview`` (约谈, a watch flag) until 1 January of the next year;
- the first ``suspend_months`` threshold (9) → ``suspend`` (暂停服务协议) for the months of the
  highest threshold the total reached at the crossing (9 → 1, 10 → 2, 11 → 3 months).  The
  suspension is one band: a later point inside 9–11 does not suspend again or lengthen it;
- ``terminate_points`` (12) → ``terminate`` (解除服务协议); new agreements are not honoured until
  ``ban_until`` = date + ``terminate_ban_years``, or + ``one_shot_ban_years`` when the crossing
  violation alone carried ``one_shot_points`` (一次性扣 12 分);
- the ``consecutive_years``-th consecutive year with a total of ``consecutive_points`` or more
  (连续三年违规扣分在 9 分以上, "以上" including 9) → ``terminate`` as above, dated by the
  violation that makes the third year reach 9; it takes the place of that year's suspension.

A violation that makes the total cross several of the suspension and termination bands at once
applies only the highest of them: 8 → 12 terminates without a suspension.  The interview band
stands apart: a total that has reached 6 owes the 约谈 whatever the order of the points, so
4 → 10 suspends for 2 months *and* puts the interview's watch flag on until year end, as 6 then
10 does.  The bands crossed are spent for the year: the total cannot cross them again.

Suspensions come out with their nominal end; 衢州 第二十二条 (``rules.calendar``) decides later
whether they are lifted at that end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from rules.calendar import add_months, add_years
from rules.ledger import Entry
from rules.model import OPEN_END, Action, Sanction
from rules.profiles import Bands, Profile

__all__ = ["computed_ref", "computed_sanctions"]


def computed_ref(year: int, action: str) -> str:
    """Stable id of a computed sanction: one per band per year (e.g. ``auto:2026:suspend``)."""
    return f"auto:{year}:{action}"


def computed_sanctions(profile: Profile, ledger: Iterable[Entry]) -> tuple[Sanction, ...]:
    """The sanctions 衢州 第二十一条 computes from a physician's ledger; none without auto_sanctions."""
    if not profile.auto_sanctions:
        return ()
    by_year: dict[int, list[Entry]] = {}
    for entry in ledger:
        by_year.setdefault(entry.year, []).append(entry)
    totals = {year: sum(e.points for e in entries) for year, entries in by_year.items()}
    result: list[Sanction] = []
    for year in sorted(by_year):
        repeat = _closes_consecutive_run(profile.bands, totals, year)
        result.extend(_year(profile, year, by_year[year], repeat))
    return tuple(result)


def _closes_consecutive_run(bands: Bands, totals: Mapping[int, int], year: int) -> bool:
    """Whether the years before ``year`` all reached the consecutive band (连续三年, 衢州 第二十一条)."""
    if bands.consecutive_years < 2 or bands.consecutive_points <= 0:
        return False
    return all(
        totals.get(year - back, 0) >= bands.consecutive_points for back in range(1, bands.consecutive_years)
    )


def _year(profile: Profile, year: int, entries: list[Entry], repeat: bool) -> list[Sanction]:
    bands = profile.bands
    fired: set[str] = set()
    result: list[Sanction] = []
    total = 0
    for entry in sorted(entries, key=lambda e: (e.day, e.violation_id)):
        if entry.points <= 0:
            continue
        before, total = total, total + entry.points
        # 约谈 is owed once the total has reached 6, whatever the order of the points: a jump
        # past it to a suspension or a termination owes the interview beside them.
        if Action.INTERVIEW not in fired and 0 < bands.interview_points <= total:
            fired.add(Action.INTERVIEW)
            result.append(_interview(profile, year, entry))
        sanction = _highest_crossed(profile, bands, year, entry, before, total, repeat)
        if sanction is not None and sanction.action not in fired:
            fired.add(sanction.action)
            result.append(sanction)
    return result


def _highest_crossed(
    profile: Profile, bands: Bands, year: int, entry: Entry, before: int, after: int, repeat: bool
) -> Sanction | None:
    def crossed(threshold: int) -> bool:
        return threshold > 0 and before < threshold <= after

    if crossed(bands.terminate_points):
        return _terminate(profile, bands, year, entry, profile.article_for(Action.TERMINATE))
    if repeat and crossed(bands.consecutive_points):
        article = profile.articles.get("consecutive") or profile.article_for(Action.TERMINATE)
        return _terminate(profile, bands, year, entry, article)
    if bands.suspend_months and crossed(bands.suspend_months[0][0]):
        months = max(m for threshold, m in bands.suspend_months if threshold <= after)
        return Sanction(
            action=Action.SUSPEND.value,
            start=entry.day,
            end=add_months(entry.day, months),
            article=profile.article_for(Action.SUSPEND),
            computed=True,
            ref=computed_ref(year, Action.SUSPEND),
        )
    return None


def _interview(profile: Profile, year: int, entry: Entry) -> Sanction:
    return Sanction(
        action=Action.INTERVIEW.value,
        start=entry.day,
        end=date(year + 1, 1, 1).toordinal(),  # 约谈 watches until the points reset (第十六条)
        article=profile.article_for(Action.INTERVIEW),
        computed=True,
        ref=computed_ref(year, Action.INTERVIEW),
    )


def _terminate(profile: Profile, bands: Bands, year: int, entry: Entry, article: str) -> Sanction:
    # 一次性扣 12 分: the ban of the one-shot band; otherwise 自解除服务协议之日起一年.
    one_shot = bands.one_shot_points > 0 and entry.points >= bands.one_shot_points
    years = bands.one_shot_ban_years if one_shot else bands.terminate_ban_years
    return Sanction(
        action=Action.TERMINATE.value,
        start=entry.day,
        end=OPEN_END,  # the agreements are ended for good; ban_until only bounds new ones
        ban_until=add_years(entry.day, years),
        article=article,
        computed=True,
        ref=computed_ref(year, Action.TERMINATE),
    )
