"""The reason registry (``gateway.check.reasons``) is complete, and every other place a reason is
named agrees with it: the city profiles' articles, the decision tables of docs/decision.md and
README.md, docs/nhsa.md's rule table, the OpenAPI document and the workbench's words."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.check import reasons
from gateway.check.reasons import FAIL_MODE, PASS, REASONS, REJECT, Reason, codes
from gateway.settings import Settings
from gateway.ui.words import reason_why, word
from rules.profiles import available_profiles, load_profile

ROOT = Path(__file__).resolve().parent.parent
#: A table row that starts with a reason code: | `code` ... | decision | ...
ROW = re.compile(r"^\| `([a-z_]+)`[^|\n]*\|([^|\n]*)\|([^|\n]*)\|(?:([^|\n]*)\|)?", re.MULTILINE)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _table_after(page: Path, heading: str) -> list[tuple[str, ...]]:
    """The rows of the first table after ``heading`` on ``page``, cells stripped."""
    text = page.read_text(encoding="utf-8")
    start = text.index(heading)
    table = re.search(r"(?:^\|.*\n)+", text[start:], re.MULTILINE)
    assert table is not None, f"no table after {heading!r} in {page.name}"
    return [tuple(cell.strip() for cell in row if cell is not None) for row in ROW.findall(table.group(0))]


@pytest.mark.parametrize("r", REASONS, ids=lambda r: r.code)
def test_every_reason_declares_every_field(r: Reason) -> None:
    assert re.fullmatch(r"[a-z_]+", r.code)
    assert getattr(reasons, r.code.upper()) == r.code  # the hot path's constant
    assert r.decision in (PASS, REJECT, FAIL_MODE)
    assert CJK.search(r.zh) and r.en.strip()
    assert CJK.search(r.label) and len(r.label) <= 8, "a reason needs its short Chinese name (the workbench's)"
    if r.decision == REJECT:
        assert r.article_key, "a rejection names its article (basis)"
    if r.decision == PASS:
        assert r.nhsa is None, "a line that passes is never a platform result"
    else:
        assert r.nhsa is not None, "a line that can be rejected needs its platform rule"
        assert re.fullmatch(r"DRGATE-\d\d", r.nhsa.rule_id) and r.nhsa.sev_deg in ("1", "2")


def test_reasons_are_in_the_decision_tables_order_with_unique_codes_and_rules() -> None:
    assert [r.order for r in REASONS] == list(range(1, len(REASONS) + 1))
    assert len(set(codes())) == len(REASONS)
    rule_ids = [r.nhsa.rule_id for r in REASONS if r.nhsa is not None]
    assert len(set(rule_ids)) == len(rule_ids) and "DRGATE-00" not in rule_ids  # 00: a refused line
    assert reasons.reason("suspended").nhsa == reasons.NhsaRule("DRGATE-05", "1")


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_has_an_article_for_every_reason_that_names_one(name: str) -> None:
    profile = load_profile(name)
    missing = [r.code for r in REASONS if r.article_key is not None and not profile.basis_for(r.article_key)]
    assert missing == [], f"{name} has no [reasons] article for {missing}"
    assert all(r.article_key for r in REASONS if r.decision == REJECT)


@pytest.mark.parametrize("name", available_profiles())
def test_the_answers_basis_is_the_profiles_article_of_the_reason(name: str) -> None:
    profile = load_profile(name)
    basis = reasons.articles(profile.reasons)
    assert set(basis) == {r.code for r in REASONS if r.article_key is not None}
    assert basis["suspended"] == profile.reasons["suspended"]


def test_docs_decision_table_lists_every_reason_in_order_with_its_decision_and_articles() -> None:
    rows = _table_after(ROOT / "docs" / "decision.md", "## Reasons, in the order they are checked")
    assert [(code, decision) for code, decision, *_ in rows] == [(r.code, r.decision_text) for r in REASONS]
    quzhou, suzhou = load_profile("quzhou-2020"), load_profile("suzhou-2021-draft")
    for (code, _, in_quzhou, in_suzhou), r in zip(rows, REASONS, strict=True):
        if r.article_key is not None:
            assert in_quzhou.startswith(quzhou.reasons[r.article_key]), code
            assert in_suzhou.startswith(suzhou.reasons[r.article_key]), code
        else:
            assert not CJK.search(in_quzhou + in_suzhou), f"{code} answers no article"


def test_readme_decision_table_lists_every_reason_in_order_with_its_decision() -> None:
    rows = _table_after(ROOT / "README.md", "Reasons, in the order they are checked")
    assert [(code, decision) for code, decision, *_ in rows] == [(r.code, r.decision_text) for r in REASONS]
    quzhou = load_profile("quzhou-2020")
    for (code, _, basis, *_), r in zip(rows, REASONS, strict=True):
        if r.article_key is not None:
            assert basis.startswith(quzhou.reasons[r.article_key]), code


def test_docs_nhsa_rule_table_is_the_registrys() -> None:
    rows = _table_after(ROOT / "docs" / "nhsa.md", "| reason | `rule_id` | `rule_name` |")
    assert [(code, rule_id, name) for code, rule_id, name, *_ in rows] == [
        (r.code, r.nhsa.rule_id, r.zh) for r in REASONS if r.nhsa is not None]


def test_openapi_enum_and_description_are_the_registrys(settings: Settings) -> None:
    spec = create_app(settings).openapi()
    line = spec["components"]["schemas"]["LineResult"]["properties"]
    assert line["reason"]["enum"] == list(codes())
    would_reject = [alt for alt in line["would_reject"]["anyOf"] if "enum" in alt]
    assert would_reject == [{"enum": list(codes()), "type": "string"}]
    described = re.findall(r"^- `([a-z_]+)`", line["reason"]["description"], re.MULTILINE)
    assert described == list(codes())
    table = spec["paths"]["/v1/claims/check"]["post"]["description"]
    assert re.findall(r"^\| `([a-z_]+)`", table, re.MULTILINE) == list(codes())
    assert "| `suspended` | reject | 衢州 第二十一条、第二十二条 |" in table


def test_openapi_names_the_configured_profiles_articles(settings: Settings) -> None:
    spec = create_app(settings.model_copy(update={"profile": "suzhou-2021-draft"})).openapi()
    table = spec["paths"]["/v1/claims/check"]["post"]["description"]
    assert "| `no_agreement` | reject | 苏州 第二条、第四条 |" in table


@pytest.mark.parametrize("r", REASONS, ids=lambda r: r.code)
def test_the_workbench_says_each_reason_in_the_registrys_words_without_a_citys_article(r: Reason) -> None:
    assert word(r.code, "reason") == r.label and reason_why(r.code) == r.zh
    # the article is the line's basis, from the configured city's profile: never one city's in the words
    assert not re.search(r"衢州|苏州|第.{1,4}条", r.label + reason_why(r.code))


def test_the_workbench_keeps_no_reason_table_of_its_own() -> None:
    named = {(path.name, node.value) for path in sorted((ROOT / "gateway" / "ui").glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in codes()}
    assert named == set()
