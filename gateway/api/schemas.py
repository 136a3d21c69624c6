"""HTTP API v1 shapes: pydantic at the edge, validated in Rust straight from the request bytes.

Codes are 1–30 of ``[A-Za-z0-9]``: anything else (``*``, ``:``, spaces, control or non-ASCII
characters) is refused here and never reaches a Redis key.

The check's body is validated into ``ClaimIn``, TypedDicts with the very constraints of
``CheckRequest``: pydantic-core builds plain dicts in ~16 µs for a 20-line claim where model
instances cost ~38 µs (orjson's bare parse: ~7 µs); ``parse_claim`` reads a well-formed claim with
orjson and checks it against the same schema itself, and leaves every other body to pydantic-core.
``CheckRequest`` stays the documented shape (OpenAPI) and what a Python caller may pass to ``Checker.check``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, cast

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from gateway.check.claim import service_day
from gateway.check.reasons import REASONS, codes

__all__ = [
    "CLAIM",
    "CheckLine",
    "CheckRequest",
    "CheckResponse",
    "ClaimIn",
    "LineIn",
    "LineResult",
    "PhysicianStatus",
    "SnapshotInfo",
    "parse_claim",
]

CODE = r"^[A-Za-z0-9]{1,30}$"
# A calendar day of 1900–2099, exactly (month lengths, leap years: 2000 is one, 1900 is not), so
# that the published schema describes what is accepted and a fuzzer's valid input is valid.
_DAY = (r"(?:(?:19|20)\d{2}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
        r"|(?:0[13578]|1[02])-31)|(?:(?:19|20)(?:0[48]|[2468][048]|[13579][26])|2000)-02-29)")
DAY = rf"^{_DAY}$"
_DATE_OR_TIME = rf"^{_DAY}(?: (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)?$"


def _check_time(value: str) -> str:
    if len(value) > 10:
        hh, mm, ss = (int(p) for p in value[11:].split(":"))
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError(f"{value!r} is not a time of day")
    service_day(value)
    return value


PhysicianCode = Annotated[str, Field(pattern=CODE, description="医保医师代码 (bilg_dr_codg): 1–30 of [A-Za-z0-9]")]
InstitutionCode = Annotated[str, Field(pattern=CODE, description="定点医疗机构代码 (fixmedins_code)")]
ServiceDate = Annotated[
    str,
    Field(pattern=_DATE_OR_TIME, description="Date of service: YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (Asia/Shanghai)"),
    AfterValidator(_check_time),
]
MedType = Annotated[str, Field(max_length=6)]
LineId = Annotated[str, Field(min_length=1, max_length=64)]
if TYPE_CHECKING:  # a Literal built from the registry is a str to the type checker
    Reason = str
else:  # the registry's codes, in the decision table's order: the OpenAPI enum of `reason`
    Reason = Literal[codes()]
#: `reason`'s description: each code, its decision, what it means (gateway.check.reasons).
REASON_DESCRIPTION = "First reason that applies, in the order of docs/decision.md's decision table:\n" + "\n".join(
    f"- `{r.code}` — {r.decision_text} — {r.zh}: {r.en}" for r in REASONS)


class _In(BaseModel):
    # strict: `"emergency": 0` or `"1"` is refused, not read as a boolean; what passes is what the schema says.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class CheckLine(_In):
    line_id: str = Field(min_length=1, max_length=64, description="Caller's line id (feedetl_sn)")
    physician_code: PhysicianCode
    service_date: ServiceDate | None = Field(default=None, description="Overrides the claim's date")
    emergency: bool | None = Field(default=None, description="Overrides the claim's emergency/rescue flag")
    med_type: str | None = Field(default=None, max_length=6, description="医疗类别 of the line (2301 carries it)")


class CheckRequest(_In):
    claim_id: str = Field(min_length=1, max_length=64, description="Caller's claim id")
    institution_code: InstitutionCode
    service_date: ServiceDate
    med_type: str | None = Field(default=None, max_length=6, description="医疗类别; 13 急诊 is exempt by default")
    emergency: bool = Field(default=False, description="急诊: exempt from rejections (衢州 第十五条)")
    rescue: bool = Field(default=False, description="抢救: exempt from rejections (衢州 第十五条)")
    lines: list[CheckLine] = Field(min_length=1, max_length=1000)


@with_config(ConfigDict(extra="ignore", strict=True))  # as strict as CheckRequest
class LineIn(TypedDict):
    """``CheckLine`` as a dict: same fields, same constraints; absent optional keys stay absent."""

    line_id: LineId
    physician_code: PhysicianCode
    service_date: NotRequired[ServiceDate | None]
    emergency: NotRequired[bool | None]
    med_type: NotRequired[MedType | None]


@with_config(ConfigDict(extra="ignore", strict=True))  # as strict as CheckRequest
class ClaimIn(TypedDict):
    """``CheckRequest`` as a dict (``emergency``, ``rescue`` default false, ``med_type`` none)."""

    claim_id: LineId
    institution_code: InstitutionCode
    service_date: ServiceDate
    med_type: NotRequired[MedType | None]
    emergency: NotRequired[bool]
    rescue: NotRequired[bool]
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=1000)]


CLAIM: TypeAdapter[ClaimIn] = TypeAdapter(ClaimIn)


def parse_claim(body: bytes | bytearray) -> ClaimIn:
    """The claim in ``body``; ``pydantic.ValidationError`` (the 422's detail, naming the field) if bad.

    A body that orjson reads and ``_accepted`` finds exactly as ``ClaimIn`` wants it, with no key
    ``ClaimIn`` does not name, is returned as orjson read it: 0.66× pydantic-core's time for a
    20-line claim, 0.85× for one line (BENCHMARKS.md, issue 15).  Every other body, a bad one or one with keys to
    ignore (whose values pydantic parses its own way: a recursion limit orjson does not have),
    goes through pydantic-core, which accepts it or names what is wrong."""
    try:
        claim = orjson.loads(body)
    except orjson.JSONDecodeError:
        claim = None
    if type(claim) is dict and _accepted(claim):
        return cast(ClaimIn, claim)
    return CLAIM.validate_json(body)


# What ``_accepted`` checks is ``ClaimIn``'s schema, key by key: a value of exactly the type (strict:
# no bool for a str, no str for a bool), the lengths, the patterns.  A pattern is matched on ASCII
# text only, with ``fullmatch`` (Python's ``$`` also matches before a final newline, pydantic-core's
# does not; its ``\d`` is Unicode's): anything else is left to pydantic-core.
_CLAIM_KEYS = frozenset(ClaimIn.__annotations__)
_LINE_KEYS = frozenset(LineIn.__annotations__)
_SERVICE_DATE = re.compile(_DATE_OR_TIME[1:-1])
_DATES: dict[str, bool] = {}  # service dates accepted: a day's claims share a handful


def _code(value: object) -> bool:
    """``CODE``: 1–30 of [A-Za-z0-9] (``isalnum`` of an ASCII string is exactly that class)."""
    return type(value) is str and 0 < len(value) <= 30 and value.isascii() and value.isalnum()


def _text(value: object) -> bool:
    """``LineId``: 1–64 characters."""
    return type(value) is str and 0 < len(value) <= 64


def _service_date(value: object) -> bool:
    if type(value) is not str:
        return False
    if value in _DATES:
        return True
    if not value.isascii() or _SERVICE_DATE.fullmatch(value) is None:
        return False
    try:
        _check_time(value)
    except ValueError:
        return False
    if len(_DATES) < 4096:
        _DATES[value] = True
    return True


def _med_type(value: object) -> bool:
    return value is None or (type(value) is str and len(value) <= 6)


def _accepted(claim: dict[str, Any]) -> bool:
    """``claim`` (as orjson read it) is a ``ClaimIn`` as pydantic-core would return it; False: ask it."""
    if not (claim.keys() <= _CLAIM_KEYS and _text(claim.get("claim_id")) and _code(claim.get("institution_code"))
            and _service_date(claim.get("service_date"))):
        return False
    if ("med_type" in claim and not _med_type(claim["med_type"])) or \
            type(claim.get("emergency", False)) is not bool or type(claim.get("rescue", False)) is not bool:
        return False
    lines = claim.get("lines")
    if type(lines) is not list or not 0 < len(lines) <= 1000:
        return False
    for line in lines:
        if type(line) is not dict:
            return False
        line_id, code = line.get("line_id"), line.get("physician_code")
        if type(line_id) is not str or not 0 < len(line_id) <= 64 or type(code) is not str or \
                not 0 < len(code) <= 30 or not code.isascii() or not code.isalnum():
            return False
        if len(line) != 2 and not _own_terms(line):  # two: exactly line_id and physician_code
            return False
    return True


def _own_terms(line: dict[str, Any]) -> bool:
    """A line's own terms, each absent, null or as ``LineIn`` wants it."""
    if not line.keys() <= _LINE_KEYS:
        return False
    day, emergency = line.get("service_date"), line.get("emergency")
    return (day is None or _service_date(day)) and (emergency is None or type(emergency) is bool) and \
        _med_type(line.get("med_type"))


class LineResult(BaseModel):
    line_id: str
    physician_code: str
    decision: Literal["pass", "reject"]
    reason: Reason = Field(description=REASON_DESCRIPTION)
    basis: str | None = Field(description="Article of the regulation behind a rejection or exemption")
    until: date | None = Field(
        description="First day the line passes again by itself: a suspension's end, the start of a recorded "
                    "agreement; null when none is known (a dissolved agreement needs a new one)")
    flags: list[Literal["watch", "emergency", "stale"]] = Field(
        description="watch: 约谈 band or credit C; emergency: exemption claimed; stale: old snapshot"
    )
    would_reject: Reason | None = Field(description="Reason replaced by an exemption or by shadow mode")
    ban_until: date | None = Field(
        description="End of the termination ban that binds (the latest of those in force, 衢州 第二十一条): "
                    "no new agreement starts before it; null when none")


class SnapshotInfo(BaseModel):
    id: str | None = Field(description="Random id of the publication decided on: a new one at every sync that "
                                       "changed something, never repeated")
    version: int | None = Field(description="Version number, for people: a Redis restarted empty starts it again")
    published_at: str | None


class CheckResponse(BaseModel):
    claim_id: str
    decision: Literal["pass", "reject", "partial"] = Field(description="partial: some lines pass, some not")
    decision_id: str = Field(description="Id of this decision in the decision log")
    snapshot: SnapshotInfo
    enforced: bool = Field(description="false in shadow mode: everything passes, would_reject tells")
    lines: list[LineResult]


class SanctionView(BaseModel):
    action: str
    start: date | None
    end: date | None
    ban_until: date | None
    article: str
    computed: bool
    ref: str | None = Field(default=None, description="The sanction's id in the store, or the computed one's")
    in_force: bool


class ViolationReason(BaseModel):
    id: str
    item: str
    article: str
    points: int
    scored_on: date
    institution_code: str
    basis_type: str = Field(description="The effective document the points rest on (苏州 第十三条)")
    basis_no: str


class OpenSuspension(BaseModel):
    ref: str
    start: date
    nominal_end: date
    window_first: date
    window_end: date
    why: str = Field(description="no restoration request filed in its window [first day, end) (衢州 第二十二条)")
    article: str
    calendar_known: bool = Field(description="false: the window was counted over a year whose 调休 is unknown")


class RevokedReason(BaseModel):
    target_id: str
    kind: Literal["violation", "sanction"]
    by: str = Field(description="`revocation`, or `appeal A-1` (衢州 第二十七条)")
    on: date | None
    reason: str


class InstitutionReason(BaseModel):
    id: str
    institution_code: str
    action: str
    start: date
    end: date | None
    basis: str
    article: str


class BanReason(BaseModel):
    ref: str
    start: date
    ban_until: date
    article: str
    computed: bool
    in_force: bool


class DueView(BaseModel):
    action: str
    article: str
    reason: str
    since: date | None
    deadline: date | None
    calendar_known: bool
    ref: str | None


class StatusReasons(BaseModel):
    """Read from the scoring store (``DRGATE_STATUS_STORE``): why the state is what it is."""

    points: list[ViolationReason] = Field(description="The violations that make the year's points")
    open_suspensions: list[OpenSuspension]
    revoked: list[RevokedReason] = Field(description="Violations and sanctions annulled, and by which record")
    institution: InstitutionReason | None = Field(description="The institution's sanction, when it decides the line")
    binding_ban: BanReason | None = Field(description="The termination whose ban ends last (衢州 第二十一条)")
    due: list[DueView] = Field(description="What an officer owes this year (drgate rules evaluate's due)")
    calendar_unknown_years: list[int] = Field(
        description="Years whose 调休 the calendar does not know that these deadlines were counted over")


class PhysicianStatus(BaseModel):
    physician_code: str
    on: date
    institution_code: str | None
    known: bool
    agreements: list[dict[str, str | None]]
    sanctions: list[SanctionView]
    credits: list[dict[str, str | None]]
    points: int | None = Field(default=None, description="Points of the year of `on` (from the store)")
    remaining: int | None = None
    line: LineResult | None = Field(description="The decision a line at `institution` on `on` gets")
    snapshot: SnapshotInfo
    reasons: StatusReasons | None = Field(default=None, description="From the scoring store; null when not read")
