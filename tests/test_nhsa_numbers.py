"""The /nhsa/ numeric fields: whatever number arrives, the platform envelope answers, never a 500.

``det_item_fee_sumamt``, ``cnt`` and ``pric`` feed the ``vola_amt`` of a rejected line; an amount
Decimal cannot round to fen (1e26, ``cnt × pric`` of 1e400000) was a plain-text 500, an exponent
past Decimal's range (``1E1000000``) one too.  A line whose amount cannot be read is refused by
itself, ``err_msg`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.cli.demo import HOSPITAL, write_demo_data
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store

TODAY = date.today()
SUSPENDED = "D330802000002"  # rejected: its amount goes into the 3101 result
FIELDS = ("det_item_fee_sumamt", "cnt", "pric")


@pytest.fixture(name="client")
def fix_client(settings: Settings, sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile,
               tmp_path: Path) -> Iterator[TestClient]:
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", TODAY)])
    Syncer(redis, keys, sqlite_store, profile).full()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _body(**numbers: Any) -> bytes:
    """A 2204 envelope of one rejected line; ``numbers`` are raw JSON texts of the numeric fields."""
    line = {"feedetl_sn": "1", "mdtrt_id": "V1", "bilg_dr_codg": SUSPENDED, "fee_ocur_time": f"{TODAY} 09:41:27"}
    text = orjson.dumps({"infno": "2204", "msgid": "M1", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
                         "inf_time": f"{TODAY} 09:41:30", "input": {"feedetail": [line]}})
    extra = b"".join(b',"%s":%s' % (name.encode(), value.encode()) for name, value in numbers.items())
    return text.replace(b'"feedetl_sn"', extra[1:] + b',"feedetl_sn"', 1) if extra else text


def _post(client: TestClient, body: bytes) -> dict[str, Any]:
    reply = client.post("/nhsa/2204", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 200, (body, reply.text)
    answer: dict[str, Any] = reply.json()
    return answer


@pytest.mark.parametrize(("numbers", "field"), [
    ({"det_item_fee_sumamt": '"1e26"'}, "det_item_fee_sumamt"),
    ({"det_item_fee_sumamt": "1e26"}, "det_item_fee_sumamt"),
    ({"det_item_fee_sumamt": '"-1e26"'}, "det_item_fee_sumamt"),
    ({"cnt": '"1e400000"', "pric": '"2"'}, "cnt"),
    ({"cnt": '"2"', "pric": '"1e400000"'}, "pric"),
    ({"det_item_fee_sumamt": '"NaN"'}, "det_item_fee_sumamt"),
    ({"det_item_fee_sumamt": '"-Infinity"'}, "det_item_fee_sumamt"),
    ({"det_item_fee_sumamt": '"sNaN"'}, "det_item_fee_sumamt"),
    ({"pric": '"1e999999"', "cnt": '"1e999999"'}, "cnt"),
    ({"cnt": '"1E1000000"', "pric": '"2"'}, "cnt"),  # past Decimal's exponent range: was decimal.Overflow
    ({"det_item_fee_sumamt": '"12,5"'}, "det_item_fee_sumamt"),
    ({"det_item_fee_sumamt": "true"}, "det_item_fee_sumamt"),
])
def test_an_amount_out_of_range_answers_infcode_minus_1_naming_it(client: TestClient, numbers: dict[str, str],
                                                                 field: str) -> None:
    answer = _post(client, _body(**numbers))
    assert answer["infcode"] == -1
    assert f"unreadable {field}" in answer["err_msg"], answer["err_msg"]


@pytest.mark.parametrize("number", ["1e400000", "NaN", "Infinity", "1" + "0" * 400])
def test_a_number_json_cannot_carry_answers_infcode_minus_1(client: TestClient, number: str) -> None:
    answer = _post(client, _body(det_item_fee_sumamt=number))
    assert answer["infcode"] == -1 and "JSON" in answer["err_msg"]


@pytest.mark.parametrize("numbers", [
    {"det_item_fee_sumamt": '"1e-400000"'},
    {"cnt": '"1e-400000"', "pric": '"1e-400000"'},
    {"det_item_fee_sumamt": '"999999999999.99"'},
    {"cnt": '"99999999999999"', "pric": '"99999999999999.99"'},  # 10^28: past 28 digits in fen
    {"cnt": '"0.' + "3" * 200 + '"', "pric": '"3"'},
    {"cnt": '"1e-1000000"', "pric": '"1e-1000000"'},
    {"det_item_fee_sumamt": '""', "cnt": "2", "pric": "12.8"},
])
def test_an_amount_in_range_is_checked(client: TestClient, numbers: dict[str, str]) -> None:
    answer = _post(client, _body(**numbers))
    assert "1 suspended" in answer["err_msg"], answer["err_msg"]  # decided: rejected, amount and all
    assert answer["output"]["result"][0]["rule_id"] == "DRGATE-05"


def test_a_negative_amount_is_a_refund_and_passes(client: TestClient) -> None:
    assert _post(client, _body(cnt='"-1e13"', pric='"99999999999999"'))["infcode"] == 0


_JSON_NUMBER = st.from_regex(r"\A-?(0|[1-9][0-9]{0,39})(\.[0-9]{1,40})?([eE][-+]?[0-9]{1,7})?\Z")
_TEXT_NUMBER = st.from_regex(r"\A[-+]?[0-9]{0,40}(\.[0-9]{0,40})?([eE][-+]?[0-9]{1,7})?\Z")
_NUMBER = st.one_of(
    _JSON_NUMBER,
    _TEXT_NUMBER.map(lambda s: f'"{s}"'),  # as a string, the way integrations send them
    st.sampled_from(['"NaN"', '"Infinity"', '"-Infinity"', '"sNaN"', "NaN", "Infinity", '""', '"  "', "null"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(numbers=st.dictionaries(st.sampled_from(FIELDS), _NUMBER, min_size=1))
def test_any_number_answers_the_envelope(client: TestClient, numbers: dict[str, str]) -> None:
    answer = _post(client, _body(**numbers))  # never a 500
    if answer["infcode"] == 0:  # a refund (a negative amount) is never rejected
        return
    assert answer["infcode"] == -1  # rejected (suspended), refused (unreadable), or not JSON at all
    said = ("1 suspended", "JSON", *(f"unreadable {f}" for f in numbers))
    assert any(s in answer["err_msg"] for s in said), (numbers, answer["err_msg"])
