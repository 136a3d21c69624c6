"""`drgate store import`: JSON Lines into the scoring store, all or nothing (docs/import-format.md).

The whole input is validated first and every bad line named (file, line, field, why).  When any
line is bad nothing is written, unless ``skip_invalid``: then the good lines go in and the bad
ones are reported.  Re-importing an object (same ``id`` or natural key) replaces it, and the
version it replaces is kept (``rules.store.history``: who, when, why); the same fields again add
nothing.  ``import_records`` takes the admin API's records through the same validation: the
Nth record is "line N".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import (
    ValidationError,
)

from rules.calendar import WorkingCalendar, add_years, china_calendar
from rules.engine import terminations
from rules.errors import ImportFileError, LineProblem
from rules.model import ExplicitSanction, PhysicianFacts, Violation, day, iso
from rules.profiles import Profile
from rules.store.history import Version, key_of, record_versions, stored_rows
from rules.store.rows import (
    ROW,
    TABLES,
    AgreementRow,
    InstitutionRow,
    InstitutionSanctionRow,
    PhysicianRow,
    RevocationRow,
    SanctionRow,
    ViolationRow,
)
from rules.store.scans import KEYS, Store
from rules.store.workflow_import import AppealRow, check_appeals, check_notices

__all__ = ["REQUEST", "ImportReport", "import_files", "import_records", "parse_lines"]

log = logging.getLogger(__name__)

_ROW = ROW
#: The "file" of the admin API's records, in their problems and their history.
REQUEST = "request"


@dataclass(frozen=True, slots=True)
class ParsedLine:
    file: str
    line: int
    row: Any


@dataclass(slots=True)
class ImportReport:
    imported: Counter[str] = field(default_factory=Counter)
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.imported.values())


def parse_lines(name: str, lines: Iterable[bytes], profile: Profile) -> Iterator[ParsedLine | LineProblem]:
    """Each non-blank line as a validated row, or the problem that makes it bad."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield LineProblem(name, number, "(line)", f"not JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield LineProblem(name, number, "(line)", "not a JSON object")
            continue
        if obj.get("kind") not in TABLES:
            yield LineProblem(name, number, "kind", f"must be one of {', '.join(TABLES)}, not {obj.get('kind')!r}")
            continue
        nul = [key for key, value in obj.items() if isinstance(value, str) and "\x00" in value]
        if nul:  # PostgreSQL text cannot hold U+0000: refused here, so SQLite and PostgreSQL agree
            yield from (LineProblem(name, number, key, "contains a NUL character (\\u0000)") for key in nul)
            continue
        try:
            row = _ROW.validate_python(obj)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"][1:]) or "(object)"
                yield LineProblem(name, number, loc, err["msg"])
            continue
        if isinstance(row, ViolationRow) and row.item not in profile.items:
            yield LineProblem(name, number, "item", f"{row.item!r} is not an item of the {profile.name} catalog")
            continue
        if isinstance(row, SanctionRow):
            problem = _sanction_problem(profile, row)
            if problem is not None:
                yield LineProblem(name, number, *problem)
                continue
        yield ParsedLine(name, number, row)


def _sanction_problem(profile: Profile, row: SanctionRow) -> tuple[str, str] | None:
    """(field, why) when the profile's regulation does not allow the sanction as written."""
    bands = profile.bands
    if row.action == "terminate" and row.ban_until is not None and bands.one_shot_ban_years_max > 0:
        # 衢州 第二十一条: 一年内不再接受 ... 一次性扣 12 分的 ... 1-5 年内不得签订.
        start = day(row.start)
        shortest = add_years(start, bands.terminate_ban_years)
        longest = add_years(start, bands.one_shot_ban_years_max)
        if not shortest <= day(row.ban_until) <= longest:
            return ("ban_until", f"{row.ban_until} is not {bands.terminate_ban_years} to "
                    f"{bands.one_shot_ban_years_max} years after start {row.start} "
                    f"(from {iso(shortest)} to {iso(longest)}; {profile.article_for('terminate')})")
    if row.action == "settlement_suspend" and row.end is None and profile.settlement_suspend_requires_end:
        return ("end", f"is required: a settlement suspension states its period "
                f"({profile.article_for('settlement_suspend')} 应当同时明确中止的期限)")
    return None


def import_files(store: Store, profile: Profile, paths: Iterable[Path], *, skip_invalid: bool = False,
                 progress: Callable[[int], None] | None = None,
                 calendar: WorkingCalendar | None = None) -> ImportReport:
    """Validate every line of every file, then write them all in one transaction.

    ``progress`` (a CLI's progress bar) is called with the bytes read so far, over all files.
    """
    report = ImportReport()
    parsed: list[ParsedLine] = []
    read = [0]
    for path in paths:
        try:
            with path.open("rb") as fh:
                lines = fh if progress is None else _counted(fh, read, progress)
                for item in parse_lines(str(path), lines, profile):
                    (report.problems.append(item) if isinstance(item, LineProblem) else parsed.append(item))
        except OSError as exc:
            report.problems.append(LineProblem(str(path), 0, "(file)", exc.strerror or str(exc)))
    return _import(store, profile, parsed, report, skip_invalid=skip_invalid, calendar=calendar)


def import_records(store: Store, profile: Profile, records: Sequence[Mapping[str, Any]], *, actor: str,
                   reason: str | None = None, expect: Literal["new", "stored"] | None = None,
                   calendar: WorkingCalendar | None = None) -> ImportReport:
    """One record or a batch (the admin API's), validated as import lines are, written all or nothing
    by ``actor`` (``key:<name>``) for ``reason``.  ``expect``: every record must be new (a create) or
    stored already (a correction).  ``ImportFileError`` names each bad record as line N (from 1)."""
    report = ImportReport()
    parsed: list[ParsedLine] = []
    for item in parse_lines(REQUEST, (orjson.dumps(r) for r in records), profile):
        (report.problems.append(item) if isinstance(item, LineProblem) else parsed.append(item))
    return _import(store, profile, parsed, report, calendar=calendar, actor=actor, reason=reason, expect=expect)


def _import(store: Store, profile: Profile, parsed: list[ParsedLine], report: ImportReport, *,
            skip_invalid: bool = False, calendar: WorkingCalendar | None = None, actor: str | None = None,
            reason: str | None = None, expect: Literal["new", "stored"] | None = None) -> ImportReport:
    with store.engine.begin() as conn:
        parsed = check_appeals(store, conn, profile, calendar or china_calendar(), parsed, report.problems)
        parsed = _check_references(store, conn, parsed, report)
        parsed = check_notices(store, conn, parsed, report.problems)
        parsed = _check_bans(store, conn, profile, parsed, report)
        if expect is not None:
            parsed = _check_expected(conn, parsed, report, expect)
        if report.problems and not skip_invalid:
            raise ImportFileError(report.problems)
        _write(store, conn, parsed, report, actor, reason)
    log.info("import wrote %d rows, refused %d lines", report.total, len(report.problems))
    return report


def _check_expected(conn: Any, parsed: list[ParsedLine], report: ImportReport,
                    expect: Literal["new", "stored"]) -> list[ParsedLine]:
    """Drop (and report) records that are stored when they should be new, or new when they should be stored."""
    good: list[ParsedLine] = []
    for kind in {p.row.kind for p in parsed}:
        lines = [p for p in parsed if p.row.kind == kind]
        stored = stored_rows(conn, kind, (key_of(kind, p.row.model_dump(exclude={"kind"})) for p in lines))
        for p in lines:
            values = p.row.model_dump(exclude={"kind"})
            there = key_of(kind, values) in stored
            if there == (expect == "stored"):
                good.append(p)
                continue
            fields = ", ".join(KEYS[TABLES[kind]])
            why = ("is recorded already; correct it with PUT /admin/v1/records" if there
                   else "is not recorded; create it with POST /admin/v1/records")
            report.problems.append(LineProblem(p.file, p.line, fields, f"this {kind} {why}"))
    return sorted(good, key=lambda p: p.line)


def _counted(lines: Iterable[bytes], read: list[int], progress: Callable[[int], None]) -> Iterator[bytes]:
    for raw in lines:
        read[0] += len(raw)
        progress(read[0])
        yield raw


def _check_references(store: Store, conn: Any, parsed: list[ParsedLine], report: ImportReport) -> list[ParsedLine]:
    """Drop (and report) lines naming a physician, institution or target known nowhere."""
    file_phys = {p.row.code for p in parsed if isinstance(p.row, PhysicianRow)}
    file_inst = {p.row.code for p in parsed if isinstance(p.row, InstitutionRow)}
    file_targets = {p.row.id for p in parsed if isinstance(p.row, ViolationRow | SanctionRow | InstitutionSanctionRow)}
    want_phys = {p.row.physician_code for p in parsed if hasattr(p.row, "physician_code")} - file_phys
    want_inst = {p.row.institution_code for p in parsed if hasattr(p.row, "institution_code")} - file_inst
    want_targets = {p.row.target_id for p in parsed if isinstance(p.row, RevocationRow)} - file_targets
    known_phys = file_phys | store.existing(conn, "physicians", "code", want_phys)
    known_inst = file_inst | store.existing(conn, "institutions", "code", want_inst)
    known_targets = (
        file_targets
        | store.existing(conn, "violations", "id", want_targets)
        | store.existing(conn, "sanctions", "id", want_targets)
        | store.existing(conn, "institution_sanctions", "id", want_targets)
    )
    good: list[ParsedLine] = []
    for p in parsed:
        problem = None
        if hasattr(p.row, "physician_code") and p.row.physician_code not in known_phys:
            problem = ("physician_code", f"{p.row.physician_code} is not a known physician")
        elif hasattr(p.row, "institution_code") and p.row.institution_code not in known_inst:
            problem = ("institution_code", f"{p.row.institution_code} is not a known institution")
        elif isinstance(p.row, RevocationRow) and p.row.target_id not in known_targets:
            problem = ("target_id", f"{p.row.target_id} is not the id of a violation or a sanction")
        if problem:
            report.problems.append(LineProblem(p.file, p.line, *problem))
        else:
            good.append(p)
    return good


def _check_bans(
    store: Store, conn: Any, profile: Profile, parsed: list[ParsedLine], report: ImportReport
) -> list[ParsedLine]:
    """Drop (and report) agreements that start inside a termination ban (衢州 第二十一条).

    The ban of a termination is ``[start, ban_until)``: "一年内不再接受重新签订".  Terminations are
    explicit or computed from the points, taken from the store and this import together (a
    violation of the same file may cross 12; a revocation of the same file may lift a ban).
    """
    agreements = [p for p in parsed if isinstance(p.row, AgreementRow)]
    if not agreements:
        return parsed
    # Only a physician with a violation or a sanction, stored or in this import, can be banned.
    in_file = {p.row.physician_code for p in parsed if isinstance(p.row, ViolationRow | SanctionRow)}
    codes = {p.row.physician_code for p in agreements} & (in_file | set(store.physicians_with_facts(conn)))
    if not codes:
        return parsed
    revoked = {p.row.target_id for p in parsed if isinstance(p.row, RevocationRow)
               or (isinstance(p.row, AppealRow) and p.row.outcome == "upheld")}
    violations: dict[str, dict[str, Violation]] = {c: {} for c in codes}
    sanctions: dict[str, dict[str, ExplicitSanction]] = {c: {} for c in codes}
    for code, stored in store.sanction_facts(conn, codes).items():
        violations[code].update((v.id, v) for v in stored.violations)
        sanctions[code].update((s.id, s) for s in stored.sanctions)
    for p in parsed:  # a row of the import replaces the stored row with its id
        if isinstance(p.row, ViolationRow) and p.row.physician_code in codes:
            violations[p.row.physician_code][p.row.id] = Violation(**p.row.model_dump(exclude={"kind"}))
        elif isinstance(p.row, SanctionRow) and p.row.physician_code in codes:
            sanctions[p.row.physician_code][p.row.id] = ExplicitSanction(**p.row.model_dump(exclude={"kind"}))
    bans = {
        code: [
            t
            for t in terminations(profile, PhysicianFacts(
                code,
                violations=tuple(v for i, v in violations[code].items() if i not in revoked),
                sanctions=tuple(s for i, s in sanctions[code].items() if i not in revoked),
            ))
            if t.ban_until
        ]
        for code in codes
    }
    refused: set[int] = set()
    for p in agreements:
        start = day(p.row.start)
        # Of several bans holding the day, the one that binds is the one that ends last.
        holding = [t for t in bans.get(p.row.physician_code, ()) if t.start <= start < t.ban_until]
        if not holding:
            continue
        ban = max(holding, key=lambda t: (t.ban_until, t.start, t.ref))
        refused.add(id(p))
        origin = "computed from the year's points" if ban.computed else f"sanction {ban.ref}"
        report.problems.append(LineProblem(
            p.file, p.line, "start",
            f"{p.row.start} is inside the ban of the termination of {p.row.physician_code} from {iso(ban.start)} "
            f"({origin}, {ban.article}): no new agreement is honoured before {iso(ban.ban_until)}",
        ))
    return [p for p in parsed if id(p) not in refused]


def _write(store: Store, conn: Any, parsed: list[ParsedLine], report: ImportReport, actor: str | None,
           reason: str | None) -> None:
    by_table: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {t: {} for t in TABLES.values()}
    versions: dict[tuple[str, tuple[Any, ...]], Version] = {}
    touched_phys: set[str] = set()
    touched_inst: set[str] = set()
    revoked_targets: set[str] = set()
    for p in parsed:
        table = TABLES[p.row.kind]
        values = p.row.model_dump(exclude={"kind"})
        key = tuple(values[k] for k in KEYS[table])
        by_table[table][key] = values  # a later line with the same key replaces an earlier one
        why = values["reason"] if p.row.kind == "revocation" else reason
        versions[(p.row.kind, key)] = Version(p.row.kind, values, actor or f"import:{p.file}:{p.line}", why)
        report.imported[p.row.kind] += 1
        if "physician_code" in values:
            touched_phys.add(values["physician_code"])
        elif table == "physicians":
            touched_phys.add(values["code"])
        if table in ("institutions", "institution_sanctions", "physician_aliases"):  # aliases go with it
            touched_inst.add(values.get("institution_code") or values["code"])
        if table == "revocations":
            revoked_targets.add(values["target_id"])
    record_versions(conn, list(versions.values()))  # before the rows they replace are written
    for table, rows in by_table.items():
        store.upsert(conn, table, list(rows.values()))
    if revoked_targets:
        phys, inst = store.owners_of(conn, revoked_targets)
        touched_phys |= phys
        touched_inst |= inst
    store.record_changes(conn, touched_phys, touched_inst)
