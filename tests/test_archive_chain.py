"""Tamper evidence, retention and export of the decision archive."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from gateway.check.core import ClaimResult, DecidedLine
from gateway.decisionlog.entries import decision_entry, feedback_entry, parse_entry, received_day
from rules.store.archive.chain import ArchivedDecision, ArchivedFeedback, digest
from rules.store.archive.reads import ArchiveReader
from rules.store.archive.writes import Archive, partition_name
from rules.store.scans import Store
from rules.store.schema import decision_days, decision_feedback, decision_physicians, decisions

DAY = 86_400


def entries(n: int, at: float, lines: int = 3) -> list[ArchivedDecision]:
    out = []
    for i in range(n):
        rows = [DecidedLine(f"{i}-{k}", f"D{k:04d}", "reject" if k == 1 else "pass", "suspended" if k == 1 else "ok",
                           "衢州 第二十一条" if k == 1 else None, None, [], None) for k in range(lines)]
        result = ClaimResult(f"C-{i}", "partial", f"id-{at:.0f}-{i:05d}", {"version": 3}, True, rows)
        parsed = parse_entry(decision_entry(at + i / 1000, result, "v1", None))
        assert isinstance(parsed, ArchivedDecision)
        out.append(parsed)
    return out


def test_an_intact_archive_verifies(store: Store) -> None:
    archive = Archive(store.engine)
    now = time.time()
    archive.insert(entries(40, now - DAY))
    archive.insert(entries(25, now))
    result = ArchiveReader(store.engine).verify()
    assert (result.days, result.decisions, result.mismatch) == (2, 65, None)


def test_altering_one_archived_line_in_sql_is_detected(store: Store) -> None:
    archive = Archive(store.engine)
    batch = entries(30, time.time())
    archive.insert(batch)
    victim = batch[17].decision_id
    with store.engine.begin() as conn:  # an insider turns a rejection into a pass (line 1 of the packed lines)
        conn.execute(decisions.update().where(decisions.c.decision_id == victim).values(
            lines=sa.func.replace(decisions.c.lines, '"reject","suspended"', '"pass","ok"')))
    mismatch = ArchiveReader(store.engine).verify(batch[0].day).mismatch
    assert mismatch is not None
    assert (mismatch.seq, mismatch.decision_id) == (18, victim)


def test_a_physician_on_several_lines_of_a_decision_is_indexed_once(store: Store) -> None:
    rows = [DecidedLine(str(k), "D0007" if k != 1 else "D0008", "pass", "ok", None, None, [], None) for k in range(4)]
    result = ClaimResult("C-P", "pass", "id-physicians", {"version": 3}, True, rows)
    parsed = parse_entry(decision_entry(time.time(), result, "v1", None))
    assert isinstance(parsed, ArchivedDecision)
    assert Archive(store.engine).insert([parsed]) == (1, 4)
    with store.engine.connect() as conn:
        assert sorted(conn.execute(sa.select(decision_physicians.c.physician_code)).scalars()) == ["D0007", "D0008"]
    page = ArchiveReader(store.engine).by_physician("D0007", parsed.day, parsed.day)
    assert [d["decision_id"] for d in page.decisions] == ["id-physicians"]
    assert [line["physician_code"] for line in page.decisions[0]["lines"]] == ["D0007", "D0008", "D0007", "D0007"]


def test_a_decision_removed_from_the_end_of_a_day_is_detected(store: Store) -> None:
    archive = Archive(store.engine)
    batch = entries(10, time.time())
    archive.insert(batch)
    with store.engine.begin() as conn:
        conn.execute(decision_physicians.delete().where(decision_physicians.c.decision_id == batch[-1].decision_id))
        conn.execute(decisions.delete().where(decisions.c.decision_id == batch[-1].decision_id))
    mismatch = ArchiveReader(store.engine).verify().mismatch
    assert mismatch is not None and "head" in mismatch.why


def test_retention_drops_whole_days_before_the_cutoff(store: Store) -> None:
    archive = Archive(store.engine)
    now = time.time()
    old, kept = entries(5, now - 3 * DAY), entries(5, now)
    archive.insert(old + kept)
    dropped = archive.drop_before(received_day(int(now * 1000)) - timedelta(1))
    assert dropped == [old[0].day]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one() == 5
        assert list(conn.execute(sa.select(decision_days.c.day)).scalars()) == [kept[0].day]
        if store.dialect == "postgresql":  # the day's partitions are gone, not emptied
            names = set(sa.inspect(conn).get_table_names())
            assert partition_name("decision_physicians", old[0].day) not in names
            assert partition_name("decision_physicians", kept[0].day) in names
    assert ArchiveReader(store.engine).verify().mismatch is None


def test_export_writes_a_csv_row_a_line_for_the_day_range(store: Store) -> None:
    archive = Archive(store.engine)
    now = time.time()
    archive.insert(entries(4, now - 2 * DAY) + entries(6, now))
    today = received_day(int(now * 1000))
    out = io.StringIO()
    assert ArchiveReader(store.engine).export_csv(today - timedelta(1), today, out) == 18
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 18
    assert {r["day"] for r in rows} == {today.isoformat()}
    assert rows[1]["reason"] == "suspended" and rows[1]["basis"] == "衢州 第二十一条"
    assert date.fromisoformat(rows[0]["day"]) == today


def test_cli_shows_verifies_and_names_the_altered_decision(store: Store, monkeypatch: Any,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    monkeypatch.setenv("DRGATE_STORE_URL", store.url)
    batch = entries(5, time.time())
    Archive(store.engine).insert(batch)
    assert main(["decisions", "show", batch[2].decision_id, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["claim_id"] == "C-2"
    assert main(["decisions", "search", "--claim", "C-3"]) == 0
    assert batch[3].decision_id in capsys.readouterr().out
    assert main(["decisions", "verify"]) == 0
    capsys.readouterr()
    with store.engine.begin() as conn:
        conn.execute(decisions.update().where(decisions.c.decision_id == batch[1].decision_id)
                     .values(lines=sa.func.replace(decisions.c.lines, "第二十一条", "altered")))
    assert main(["decisions", "verify"]) == 1
    assert f"decision 2 ({batch[1].decision_id})" in capsys.readouterr().err
    assert main(["decisions", "show", "nope"]) == 2


# -- a termination's ban end, and feedback in a chain of its own --------------------------------


def terminated(at: float) -> ArchivedDecision:
    line = DecidedLine("1", "D0001", "reject", "terminated", "衢州 第二十一条", None, [], None, "2029-03-02")
    result = ClaimResult("C-T", "reject", "id-terminated", {"version": 3}, True, [line])
    parsed = parse_entry(decision_entry(at, result, "v1", None))
    assert isinstance(parsed, ArchivedDecision)
    return parsed


def test_a_lines_ban_until_is_archived_shown_and_chained(store: Store, monkeypatch: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    monkeypatch.setenv("DRGATE_STORE_URL", store.url)
    decision = terminated(time.time())
    Archive(store.engine).insert([decision])
    found = ArchiveReader(store.engine).decision(decision.decision_id)
    assert found is not None and found["lines"][0]["ban_until"] == "2029-03-02"
    assert main(["decisions", "show", decision.decision_id]) == 0
    assert "2029-03-02" in capsys.readouterr().out
    with store.engine.begin() as conn:  # the ban shortened in SQL
        conn.execute(decisions.update().values(lines=sa.func.replace(decisions.c.lines, "2029-03-02", "2026-03-03")))
    mismatch = ArchiveReader(store.engine).verify().mismatch
    assert mismatch is not None and mismatch.decision_id == decision.decision_id


def test_an_entry_of_layout_2_keeps_its_digest() -> None:
    """Lines without ban_until (layout 2, and rows archived before revision 0005) digest as they did."""
    entry = orjson.loads(decision_entry(time.time(), ClaimResult("C-2", "pass", "id-v2", {"version": 3}, True, [
        DecidedLine("1", "D0001", "pass", "ok", None, None, [], None)]), "v1", None))
    entry["v"], entry["lines"] = 2, [[x[0], x[1], *x[2:6], *x[7:]] for x in entry["lines"]]  # no ban_until
    parsed = parse_entry(orjson.dumps(entry))
    assert isinstance(parsed, ArchivedDecision)
    (line,) = parsed.lines
    assert line[-1] is None
    old = hashlib.sha256(orjson.dumps([parsed.decision, [line[2:-1]], []])).hexdigest()  # 0004's digest
    assert digest(parsed.decision, parsed.lines, parsed.grounds) == old


def feedback(n: int, decision_id: str, at: float) -> ArchivedFeedback:
    parsed = parse_entry(orjson.dumps(feedback_entry(at + n / 1000, decision_id, {"way": "continue", "n": n})))
    assert isinstance(parsed, ArchivedFeedback)
    return parsed


def test_feedback_is_chained_and_altering_it_in_sql_is_detected(store: Store, monkeypatch: Any,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    monkeypatch.setenv("DRGATE_STORE_URL", store.url)
    archive = Archive(store.engine)
    now = time.time()
    batch = entries(3, now)
    notes = [feedback(n, batch[n % 3].decision_id, now) for n in range(6)]
    archive.insert(batch, notes[:4])
    archive.insert([], [*notes[2:], notes[5]])  # two again, one twice: each kept once, in the chain once
    assert ArchiveReader(store.engine).verify().mismatch is None
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(decision_feedback)).scalar_one() == 6
        conn.execute(decision_feedback.update().where(decision_feedback.c.seq == 4)
                     .values(body='{"way": "modify", "n": 3}'))  # an insider rewrites what the doctor answered
    mismatch = ArchiveReader(store.engine).verify().mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.seq, mismatch.decision_id) == ("feedback", 4, notes[3].row["feedback_id"])
    assert main(["decisions", "verify"]) == 1
    assert f"feedback 4 ({notes[3].row['feedback_id']})" in capsys.readouterr().err


def test_feedback_removed_from_the_end_of_a_day_is_detected(store: Store) -> None:
    archive = Archive(store.engine)
    now = time.time()
    notes = [feedback(n, "id-elsewhere", now) for n in range(3)]  # its decision archived on another day, or not yet
    archive.insert([], notes)
    assert ArchiveReader(store.engine).verify().mismatch is None
    with store.engine.begin() as conn:
        conn.execute(decision_feedback.delete().where(decision_feedback.c.seq == 3))
    mismatch = ArchiveReader(store.engine).verify().mismatch
    assert mismatch is not None and mismatch.kind == "feedback" and "head" in mismatch.why
