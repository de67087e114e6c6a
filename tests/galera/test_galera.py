# SPDX-License-Identifier: Apache-2.0
"""The catalogue on a 3-node MariaDB Galera cluster, as OpenStack runs it: a node killed under
write load, certification conflicts, read-your-writes across nodes, If-Match races, schema
migration and bulk import on a cluster, health checks that follow the node."""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from freezer_api.storage.sql import migrate
from tests.conftest import make_backup, make_v1_backup
from tests.galera.conftest import Api, api_conf
from tests.processes import BIN, free_port, running

pytestmark = pytest.mark.slow
HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1", "X-Roles": "member,reader"}


def new_client(base: str) -> str:
    name = f"host-{time.monotonic_ns()}"
    created = requests.post(
        f"{base}/v2/p1/clients", json={"client_id": name}, headers=HEADERS, timeout=60
    )
    assert created.status_code == 201, created.text
    return name


def new_job(base: str, client_id: str) -> str:
    created = requests.post(
        f"{base}/v2/p1/jobs",
        json={"client_id": client_id, "description": "0", "job_actions": []},
        headers=HEADERS,
        timeout=60,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["job_id"])


def test_schema_is_migrated_once_and_every_table_has_a_primary_key(galera, apis):
    """db sync ran on node 0 only; every node has the schema, and every table a primary key
    (Galera replicates rows of tables without one unreliably)."""
    for node in galera.nodes:
        assert node.sql("SELECT version_num FROM alembic_version", "freezer") == [(migrate.head(),)]
        keyless = node.sql(
            "SELECT t.table_name FROM information_schema.tables t "
            "LEFT JOIN information_schema.table_constraints c ON c.table_schema = t.table_schema "
            "AND c.table_name = t.table_name AND c.constraint_type = 'PRIMARY KEY' "
            "WHERE t.table_schema = 'freezer' AND c.constraint_name IS NULL"
        )
        assert keyless == []
        engines = node.sql(
            "SELECT DISTINCT engine FROM information_schema.tables WHERE table_schema = 'freezer'"
        )
        assert engines == [("InnoDB",)]


def test_a_write_through_one_node_is_read_through_another_at_once(apis):
    """Read-your-writes across nodes (wsrep_sync_wait): never a stale read, under load."""
    stale: list[tuple[str, int, int]] = []

    def cycle(worker: int) -> None:
        session = requests.Session()
        for number in range(worker, 480, 6):
            writer, reader = apis[number % 3], apis[(number + 1) % 3]
            document = make_v1_backup(backup_name=f"ryw{number}")
            created = session.post(
                f"{writer.base}/v1/backups", json=document, headers=HEADERS, timeout=60
            )
            assert created.status_code == 201, created.text
            backup_id = created.json()["backup_id"]
            read = session.get(f"{reader.base}/v1/backups/{backup_id}", headers=HEADERS, timeout=60)
            if read.status_code != 200:
                stale.append(("create", number, read.status_code))
            changed = session.patch(
                f"{writer.base}/v1/backups/{backup_id}",
                json={"total_fs_files": number},
                headers=HEADERS,
                timeout=60,
            )
            assert changed.status_code == 200, changed.text
            again = session.get(
                f"{reader.base}/v1/backups/{backup_id}", headers=HEADERS, timeout=60
            )
            if again.json()["backup_metadata"].get("total_fs_files") != number:
                stale.append(("patch", number, again.status_code))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(cycle, range(6)))
    assert stale == []


def test_if_match_races_across_nodes_have_one_winner(apis):
    client_id = new_client(apis[0].base)
    job_id = new_job(apis[0].base, client_id)
    etag = requests.get(f"{apis[0].base}/v2/p1/jobs/{job_id}", headers=HEADERS, timeout=60)
    barrier = threading.Barrier(6)

    def writer(number: int) -> int:
        api = apis[number % 3]
        barrier.wait()
        return requests.patch(
            f"{api.base}/v2/p1/jobs/{job_id}",
            json={"description": f"writer {number}"},
            headers={**HEADERS, "If-Match": etag.headers["ETag"]},
            timeout=60,
        ).status_code

    for _ in range(5):
        with ThreadPoolExecutor(6) as pool:
            statuses = Counter(pool.map(writer, range(6)))
        assert statuses == {200: 1, 412: 5}, statuses
        etag = requests.get(f"{apis[1].base}/v2/p1/jobs/{job_id}", headers=HEADERS, timeout=60)


def test_certification_conflicts_on_a_hot_row_never_reach_a_client(apis):
    """3 clients x 60 PATCHes of one job, each through another node: all succeed; the
    conflicts Galera reports are retried inside the server, and each retry is logged."""
    client_id = new_client(apis[0].base)
    job_id = new_job(apis[0].base, client_id)
    since = [len(api.log_text()) for api in apis]

    def patcher(number: int) -> Counter[int]:
        session = requests.Session()
        statuses: Counter[int] = Counter()
        for round_ in range(60):
            api = apis[(number + round_) % 3]
            result = session.patch(
                f"{api.base}/v2/p1/jobs/{job_id}",
                json={"description": f"{number}-{round_}"},
                headers=HEADERS,
                timeout=60,
            )
            statuses[result.status_code] += 1
        return statuses

    with ThreadPoolExecutor(3) as pool:
        total = sum(pool.map(patcher, range(3)), Counter())
    assert total == {200: 180}, total
    final = requests.get(f"{apis[2].base}/v2/p1/jobs/{job_id}", headers=HEADERS, timeout=60)
    assert final.headers["ETag"] == f'"{1 + 180}"'
    logs = "".join(api.log_text()[offset:] for api, offset in zip(apis, since, strict=True))
    retried = re.findall(r"certification conflict: running the transaction again", logs)
    assert "gave up" not in logs
    print(f"certification conflicts retried inside the server: {len(retried)}")


def test_a_follower_of_the_feed_through_another_node_misses_no_event(apis):
    """4 writers through nodes 0 and 1 create and update backups while a follower reads
    the change feed through node 2 with its cursor: it sees every acknowledged write's
    events, once each, in cursor order."""
    written: list[str] = []
    done = threading.Event()
    seen: list[dict[str, Any]] = []

    def writer(number: int) -> None:
        session = requests.Session()
        api = apis[number % 2]
        for index in range(40):
            document = make_backup(hostname=f"feed{number}", time_stamp=1_000 + index)
            created = session.post(
                f"{api.base}/v2/p1/backups", json=document, headers=HEADERS, timeout=60
            )
            assert created.status_code == 201, created.text
            backup_id = created.json()["backup_id"]
            patched = session.patch(
                f"{api.base}/v2/p1/backups/{backup_id}",
                json={"status": "available"},
                headers=HEADERS,
                timeout=60,
            )
            assert patched.status_code == 200, patched.text
            written.append(backup_id)

    def follower() -> None:
        session = requests.Session()
        cursor = None
        while True:
            finished = done.is_set()
            params = {"limit": "100", **({"since": cursor} if cursor else {})}
            page = session.get(
                f"{apis[2].base}/v2/p1/events", params=params, headers=HEADERS, timeout=60
            )
            assert page.status_code == 200, page.text
            seen.extend(page.json()["events"])
            cursor = page.json()["next"]
            if finished and not page.json()["events"]:
                return

    start = requests.get(f"{apis[2].base}/v2/p1/events?limit=1000", headers=HEADERS, timeout=60)
    before = {event["cursor"] for event in start.json()["events"]}
    with ThreadPoolExecutor(5) as pool:
        following = pool.submit(follower)
        for future in [pool.submit(writer, number) for number in range(4)]:
            future.result()
        done.set()
        following.result()
    mine = [event for event in seen if event["id"] in set(written)]
    cursors = [int(event["cursor"]) for event in seen]
    assert cursors == sorted(set(cursors))
    assert {(event["id"], event["operation"]) for event in mine} == {
        (backup_id, operation) for backup_id in written for operation in ("create", "update")
    }
    assert len(mine) == 2 * len(written) == 320
    assert not before & {event["cursor"] for event in mine}


def assert_quiet(api: Api, since: int) -> str:
    """The API's log since offset ``since``: connection losses are one line each, and no
    traceback."""
    text = api.log_text()[since:]
    assert "Traceback" not in text, text[-4000:]
    return text


def wait_until(predicate: Any, timeout: float, what: str) -> float:
    began = time.monotonic()
    while not predicate():
        assert time.monotonic() - began < timeout, f"{what} within {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - began


def health(api: Api) -> int:
    return requests.get(f"{api.base}/healthcheck", timeout=30).status_code


def answers(api: Api) -> int:
    return requests.get(f"{api.base}/v1/backups?limit=1", headers=HEADERS, timeout=30).status_code


def test_a_node_killed_under_write_load_loses_no_acknowledged_write(galera, apis):
    """kill -9 of node 2 while agents write through nodes 0 and 1: no request fails, every
    acknowledged write is there; node 2's API answers JSON 503 (and its health check fails)
    until the node rejoins, by IST and then by SST, and recovers by itself."""
    victim, survivors = apis[2], apis[:2]
    node = galera.nodes[2]
    since = [len(api.log_text()) for api in apis]
    acknowledged: dict[str, dict[str, Any]] = {}
    failures: list[Any] = []
    slowest = [0.0]
    stop = threading.Event()

    def writer(number: int) -> None:
        session = requests.Session()
        api = survivors[number % 2]
        for index in range(2000):
            if stop.is_set():
                return
            document = make_v1_backup(backup_name=f"load{number}-{index}")
            began = time.monotonic()
            try:
                result = session.post(
                    f"{api.base}/v1/backups", json=document, headers=HEADERS, timeout=60
                )
            except requests.RequestException as error:
                failures.append(repr(error))
                continue
            slowest[0] = max(slowest[0], time.monotonic() - began)
            if result.status_code == 201:
                acknowledged[result.json()["backup_id"]] = document
            else:
                failures.append((result.status_code, result.text))

    with ThreadPoolExecutor(4) as pool:
        writers = [pool.submit(writer, number) for number in range(4)]
        time.sleep(2)
        node.kill()
        killed = time.monotonic()
        refused = requests.get(f"{victim.base}/v1/backups", headers=HEADERS, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.json()["title"] == "Service Unavailable"
        assert int(refused.headers["Retry-After"]) > 0
        assert health(victim) == 503
        # Galera's suspect timeout passes, the survivors go on as a primary component of 2
        time.sleep(max(0.0, 12 - (time.monotonic() - killed)))
        stop.set()
        for future in writers:
            future.result()
    assert failures == []
    assert galera.size() == 2
    print(f"writes acknowledged: {len(acknowledged)}; slowest: {slowest[0]:.1f} s")

    logged = len(node.log_text())
    node.start(wait=False)
    node.wait_synced()
    assert "IST received" in node.log_text()[logged:]
    recovered = wait_until(lambda: answers(victim) == 200, 60, "recovery after IST")
    print(f"rejoined by IST; its API answered again {recovered:.1f} s after the node synced")
    assert health(victim) == 200

    node.kill()
    node.wipe_to_empty()
    logged = len(node.log_text())
    node.start(wait=False)
    wait_until(lambda: answers(victim) == 503, 30, "503 while the node is down")
    node.wait_synced()
    assert "SST received" in node.log_text()[logged:]
    wait_until(lambda: answers(victim) == 200, 60, "recovery after SST")
    assert health(victim) == 200
    assert galera.size() == 3

    # every acknowledged write through the node that was rebuilt, a sample through the others
    session = requests.Session()
    for api, step in ((victim, 1), (apis[0], 7), (apis[1], 7)):
        for backup_id, document in itertools.islice(acknowledged.items(), 0, None, step):
            read = session.get(f"{api.base}/v1/backups/{backup_id}", headers=HEADERS, timeout=60)
            assert read.status_code == 200, read.text
            assert read.json()["backup_metadata"] == document
    for api, offset in zip(apis, since, strict=True):
        assert_quiet(api, offset)
    # an expected loss of the node is said in warnings of one line, never as an error
    assert " ERROR " not in victim.log_text()[since[2] :]


def test_the_health_check_fails_while_the_node_is_desynced(galera, apis):
    """A node taken out of the cluster's flow (a donor, a backup: wsrep_desync) gets no
    traffic from a load balancer that asks /healthcheck."""
    node, api = galera.nodes[1], apis[1]
    assert health(api) == 200
    node.sql("SET GLOBAL wsrep_desync = ON")
    try:
        answer = requests.get(f"{api.base}/healthcheck", timeout=30)
        assert answer.status_code == 503
        assert "not Synced" in answer.text
    finally:
        node.sql("SET GLOBAL wsrep_desync = OFF")
    wait_until(lambda: health(api) == 200, 30, "healthy again")


def test_an_api_started_while_its_node_is_down_waits_for_it(galera, apis, tmp_path):
    """[database] max_retries: the API waits for its node instead of exiting."""
    node = galera.nodes[2]
    node.stop()
    port = free_port()
    conf = api_conf(tmp_path, node, port, "max_retries = -1\nretry_interval = 1\n")
    log = tmp_path / "late.log"
    late = threading.Timer(4, lambda: node.start(wait=False))
    late.start()
    try:
        argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
        with running(argv, f"http://127.0.0.1:{port}/", log, timeout=120):
            waited = log.read_text()
            assert (
                "cannot be reached" in waited and "trying again in 1 s (retry 1 of ever)" in waited
            )
            node.wait_synced()
            late_api = Api(node, f"http://127.0.0.1:{port}", conf, log)
            wait_until(lambda: answers(late_api) == 200, 60, "the late API answers")
    finally:
        late.join()
        node.wait_synced()
    assert galera.size() == 3


def manage(
    url: str, directory: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    conf = directory / "manage.conf"
    conf.write_text(f"[database]\nconnection = {url}\n")
    return subprocess.run(
        [str(BIN / "freezer-manage"), "--config-file", str(conf), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def stored(node: Any, database: str) -> int:
    """How many records of every kind ``database`` holds."""
    counts = node.sql(
        " UNION ALL ".join(
            f"SELECT COUNT(*) FROM {table}"
            for table in ("backups", "clients", "jobs", "actions", "sessions")
        ),
        database,
    )
    return sum(int(count) for (count,) in counts)


def test_an_import_beyond_the_writeset_limit_says_so(galera, apis, tmp_path):
    session = requests.Session()
    for number in range(250):
        created = session.post(
            f"{apis[number % 3].base}/v1/backups",
            json=make_v1_backup(backup_name=f"export{number}"),
            headers=HEADERS,
            timeout=60,
        )
        assert created.status_code == 201
    node = galera.nodes[0]
    exported = manage(node.url, tmp_path, "db", "export")
    assert exported.returncode == 0, exported.stderr
    node.sql("CREATE DATABASE copy CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    copy_url = node.url.replace("/freezer", "/copy")
    assert manage(copy_url, tmp_path, "db", "sync").returncode == 0
    copied = requests.get(f"{apis[0].base}/v1/backups?limit=1", headers=HEADERS, timeout=60)
    assert copied.status_code == 200
    # NOTE: a record is two rows, itself and its create event; a batch of 100, 201 rows
    node.sql("SET GLOBAL wsrep_max_ws_rows = 250")
    try:
        refused = manage(copy_url, tmp_path, "db", "import", stdin=exported.stdout)
        assert refused.returncode == 1
        assert "wsrep_max_ws_rows = 250" in refused.stderr, refused.stderr
        assert "2N + 1 rows" in refused.stderr
        assert "--batch-size" in refused.stderr and "nothing was imported" in refused.stderr
        assert stored(node, "copy") == 0

        # batches under the limit; one that fails midway leaves the batches before it, and
        # --skip-existing goes on from there
        lines = exported.stdout.splitlines()
        broken = "\n".join([*lines[:250], '{"kind": "backups"}', *lines[250:]]) + "\n"
        stopped = manage(copy_url, tmp_path, "db", "import", "--batch-size", "100", stdin=broken)
        assert stopped.returncode == 1
        assert "line 251" in stopped.stderr and "--skip-existing" in stopped.stderr
        assert stored(node, "copy") == 200
        finished = manage(
            copy_url,
            tmp_path,
            "db",
            "import",
            "--batch-size",
            "100",
            "--skip-existing",
            stdin=exported.stdout,
        )
        assert finished.returncode == 0, finished.stderr
        assert "200 skipped" in finished.stdout
    finally:
        node.sql("SET GLOBAL wsrep_max_ws_rows = 0")
    # every node has the whole copy, the same as the source
    total = stored(node, "freezer")
    assert total == len(lines)
    for each in galera.nodes:
        assert stored(each, "copy") == total


def test_a_node_without_quorum_answers_503_until_it_is_bootstrapped(galera, apis):
    """Two of three nodes die: the last one has no quorum (non-primary) and refuses SQL; its
    API answers 503 and fails its health check, writes included, without an error logged.
    pc.bootstrap makes it the primary component again, and the others rejoin it."""
    node, api = galera.nodes[0], apis[0]
    since = len(api.log_text())
    for other in galera.nodes[1:]:
        other.kill()
    wait_until(lambda: node.status("wsrep_cluster_status") == "non-Primary", 30, "no quorum")
    refused = requests.post(
        f"{api.base}/v1/backups", json=make_v1_backup(), headers=HEADERS, timeout=60
    )
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"]
    assert answers(api) == 503 and health(api) == 503

    node.sql("SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'")
    wait_until(lambda: answers(api) == 200, 30, "answers once bootstrapped")
    assert health(api) == 200
    for other in galera.nodes[1:]:
        other.start(wait=False)
    for other in galera.nodes[1:]:
        other.wait_synced()
    assert galera.size() == 3
    for each in apis:
        wait_until(lambda each=each: answers(each) == 200, 60, f"{each.node.name} answers")
    text = assert_quiet(api, since)
    assert " ERROR " not in text
