"""Redis Cluster and Sentinel: a local three-master cluster and a sentinel-watched primary, for real.

The cluster is started by the test (redis-server processes on free loopback ports) and torn down
after; a sync publishes to it, the gateway and the in-process checker read from it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.checker import Checker
from gateway.cli.demo import HOSPITAL, write_demo_data
from gateway.cli.main import main
from gateway.connections import close_redis, redis_target, sync_redis
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.servers import redis_cluster, redis_sentinel

TODAY = date.today()
OK, SUSPENDED = "D330802000001", "D330802000002"


@pytest.fixture(scope="module", name="cluster_ports")
def fix_cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield ports


@pytest.fixture(name="demo_store")
def fix_demo_store(sqlite_store: Store, profile: Profile, tmp_path: Path) -> Store:
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", TODAY)])
    return sqlite_store


def _claim(*codes: str) -> dict[str, Any]:
    return {"claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(TODAY),
            "lines": [{"line_id": str(i), "physician_code": c} for i, c in enumerate(codes)]}


def _reasons(client: TestClient, *codes: str) -> list[str]:
    return [ln["reason"] for ln in client.post("/v1/claims/check", json=_claim(*codes)).json()["lines"]]


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll until ``check`` holds: propagation is asynchronous (pub/sub or the meta poll)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_cluster_urls_are_recognised() -> None:
    target = redis_target(Settings(redis_url="redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2"))
    assert (target.kind, target.nodes, target.password) == ("cluster", (("10.0.0.1", 7000), ("10.0.0.2", 6379)),
                                                           "s3cret")
    assert redis_target(Settings(redis_url="redis://10.0.0.1:7000", redis_cluster=True)).nodes == (
        ("10.0.0.1", 7000),)
    assert redis_target(Settings(redis_url="rediss+cluster://h:7000")).ssl


def test_sentinel_urls_are_recognised() -> None:
    target = redis_target(Settings(redis_url="redis+sentinel://s1:26379,s2/mymaster/2"))
    assert (target.kind, target.nodes, target.service, target.db) == (
        "sentinel", (("s1", 26379), ("s2", 26379)), "mymaster", 2)
    with pytest.raises(ValueError, match="service name"):
        redis_target(Settings(redis_url="redis+sentinel://s1:26379"))


def test_plain_urls_stay_single() -> None:
    assert redis_target(Settings(redis_url="redis://127.0.0.1:6379/0")).kind == "single"


def test_every_key_of_a_snapshot_lives_in_one_slot_of_the_cluster(
    cluster_ports: list[int], demo_store: Store, profile: Profile, prefix: str, tmp_path: Path
) -> None:
    settings = Settings(redis_url=f"redis+cluster://127.0.0.1:{cluster_ports[0]}", redis_prefix=prefix)
    client = sync_redis(settings)
    Syncer(client, Keys(prefix), demo_store, profile).full()
    keys_per_node = {p: redis.Redis(host="127.0.0.1", port=p).keys(f"{{{prefix}}}*") for p in cluster_ports}
    holders = [p for p, keys in keys_per_node.items() if keys]
    assert len(holders) == 1
    slots = {redis.Redis(host="127.0.0.1", port=holders[0]).cluster("keyslot", k) for k in keys_per_node[holders[0]]}
    assert len(slots) == 1


def test_sync_and_checks_on_a_cluster(cluster_ports: list[int], demo_store: Store, profile: Profile,
                                      prefix: str, write_jsonl: Any, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis+cluster://127.0.0.1:{cluster_ports[1]},127.0.0.1:{cluster_ports[2]}"
    monkeypatch.setenv("DRGATE_REDIS_URL", url)
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", prefix)
    monkeypatch.setenv("DRGATE_STORE_URL", demo_store.url)
    assert main(["sync", "--full", "--json"]) == 0
    assert '"physicians": 7' in capsys.readouterr().out
    settings = Settings(poll_interval=0.1)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["ready"]
        assert _reasons(client, OK, SUSPENDED) == ["ok", "suspended"]
        nhsa = client.post("/nhsa/2204", json={
            "infno": "2204", "msgid": "m1", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
            "insuplc_admdvs": "", "inf_time": f"{TODAY} 10:00:00", "input": {"feedetail": [
                {"feedetl_sn": "1", "mdtrt_id": "V1", "bilg_dr_codg": SUSPENDED, "fee_ocur_time": f"{TODAY} 10:00:00",
                 "det_item_fee_sumamt": "8.00", "cnt": "1", "pric": "8"}]}}).json()
        assert [r["rule_id"] for r in nhsa["output"]["result"]] == ["DRGATE-05"]
        # An incremental sync over the cluster reaches the gateway (pub/sub through the cluster bus).
        import_files(demo_store, profile, [write_jsonl([
            {"kind": "sanction", "id": "S-cluster", "physician_code": OK, "action": "suspend",
             "start": str(TODAY), "end": None, "basis": "test"}])])
        assert main(["sync"]) == 0
        assert _eventually(lambda: _reasons(client, OK) == ["suspended"])


def test_in_process_checker_on_a_cluster(cluster_ports: list[int], demo_store: Store, profile: Profile,
                                         prefix: str) -> None:
    settings = Settings(redis_url=f"redis+cluster://127.0.0.1:{cluster_ports[0]}", redis_prefix=prefix,
                        poll_interval=0.1)
    Syncer(sync_redis(settings), Keys(prefix), demo_store, profile).full()
    checker = Checker.connect(settings)
    try:
        assert [ln.reason for ln in checker.check(_claim(OK, SUSPENDED)).lines] == ["ok", "suspended"]
    finally:
        checker.close()


@contextlib.contextmanager
def _published_behind_a_sentinel(workdir: Path, store: Store, profile: Profile,
                                 prefix: str) -> Iterator[tuple[Settings, int]]:
    """A sentinel-watched primary the demo store is published to: (the gateway's settings, sentinel port)."""
    with redis_sentinel(workdir, service="drgate-test") as (_, sentinel_port):
        settings = Settings(redis_url=f"redis+sentinel://127.0.0.1:{sentinel_port}/drgate-test",
                            redis_prefix=prefix, poll_interval=0.1)
        assert _eventually(lambda: _master_known(sentinel_port))
        writer = sync_redis(settings)
        Syncer(writer, Keys(prefix), store, profile).full()
        close_redis(writer)
        yield settings, sentinel_port


def test_sync_and_checks_through_sentinel(tmp_path: Path, demo_store: Store, profile: Profile, prefix: str) -> None:
    with (_published_behind_a_sentinel(tmp_path / "sentinel", demo_store, profile, prefix) as (settings, _),
          TestClient(create_app(settings)) as client):
        assert _reasons(client, OK, SUSPENDED) == ["ok", "suspended"]


def _master_known(sentinel_port: int) -> bool:
    try:
        sentinel = redis.Redis(host="127.0.0.1", port=sentinel_port)
        return sentinel.sentinel_get_master_addr_by_name("drgate-test") is not None
    except redis.RedisError:
        return False


def _clients(server: redis.Redis) -> int:
    return len(server.client_list())


def test_the_checker_closes_its_connections_to_the_sentinels(tmp_path: Path, demo_store: Store, profile: Profile,
                                                             prefix: str) -> None:
    with _published_behind_a_sentinel(tmp_path / "sentinel", demo_store, profile, prefix) as (settings, sentinel_port):
        sentinel = redis.Redis(host="127.0.0.1", port=sentinel_port)
        before = _clients(sentinel)
        checker = Checker.connect(settings)
        assert [ln.reason for ln in checker.check(_claim(OK, SUSPENDED)).lines] == ["ok", "suspended"]
        assert _clients(sentinel) > before
        checker.close()
        assert _eventually(lambda: _clients(sentinel) <= before, timeout=5.0)
        sentinel.close()
