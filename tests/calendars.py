"""Working calendars for the tests: the package's alone, and with a made-up 2027 override file."""

from __future__ import annotations

from rules.calendar import WorkingCalendar
from rules.calendar_file import parse_overrides

__all__ = ["MADE_UP_2027", "package_only", "with_override"]

MADE_UP_2027 = """
[2027]
notice = "made up for the tests; not the State Council's schedule"
days_off = ["2027-01-01", "2027-01-04", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08",
            "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
working_days = ["2027-01-09", "2027-02-13"]
"""


def package_only() -> WorkingCalendar:
    # Pinned to 2026 so that the tests hold once a release of the package carries 2027.
    return WorkingCalendar(known_through=2026)


def with_override() -> WorkingCalendar:
    return WorkingCalendar(overrides=parse_overrides(MADE_UP_2027, "made-up.toml"), known_through=2026)
