# SPDX-License-Identifier: Apache-2.0
"""Several real API processes on one database, hammered concurrently over loopback."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from freezer_api.storage.sql import migrate
from tests import throwaway
from tests.conftest import engines_under_test, make_action, make_v1_backup, server_engine
from tests.processes import BIN, free_port, running

pytestmark = pytest.mark.slow
PROCESSES = 3
HEADERS = {"X-User-Id": "agent", "X-Project-Id": "p1", "X-Roles": "member,reader"}


@pytest.fixture(params=engines_under_test(), scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    admin = None if request.param == "sqlite" else server_engine(request.param)
    directory: Path = tmp_path_factory.mktemp(f"cluster-{request.param}")
    url = f"sqlite:///{directory / 'shared.db'}" if admin is None else throwaway.create(admin)
    migrate.upgrade_url(url)
    with contextlib.ExitStack() as stack:
        bases = []
        for index in range(PROCESSES):
            port = free_port()
            conf = directory / f"api{index}.conf"
            conf.write_text(
                f"[DEFAULT]\nbind_port = {port}\nworkers = 2\nthreads = 4\n"
                f"[database]\nconnection = {url}\npool_timeout = 30\n"
            )
            base = f"http://127.0.0.1:{port}"
            argv = [str(BIN / "freezer-api"), "--config-file", str(conf)]
            stack.enter_context(running(argv, f"{base}/", directory / f"api{index}.log"))
            bases.append(base)
        yield bases
    if admin:
        throwaway.drop(admin, url)


def test_many_agents_posting_backups(cluster):
    """Every backup is stored once: duplicates of one natural id get 409, never a 5xx."""
    shared = [make_v1_backup(backup_name="shared") for _ in range(10)]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def agent(number: int) -> None:
        session = requests.Session()
        own = [make_v1_backup(backup_name=f"agent{number}") for _ in range(15)]
        documents = own + shared
        random.Random(number).shuffle(documents)
        for document in documents:
            base = random.choice(cluster)
            result = session.post(f"{base}/v1/backups", json=document, headers=HEADERS, timeout=60)
            with lock:
                statuses[result.status_code] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(agent, range(8)))
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] == 8 * 15 + 10
    assert statuses[409] == 7 * 10
    listed = requests.get(
        f"{cluster[0]}/v1/backups?limit=1000", headers=HEADERS, timeout=60
    ).json()["backups"]
    ids = [backup["backup_id"] for backup in listed]
    assert len(ids) == len(set(ids)) == 8 * 15 + 10


def make_job_on(base: str, client_id: str) -> str:
    job: dict[str, Any] = {
        "client_id": client_id,
        "job_actions": [{"freezer_action": make_action()}],
    }
    created = requests.post(f"{base}/v2/p1/jobs", json=job, headers=HEADERS, timeout=60)
    assert created.status_code == 201, created.text
    return str(created.json()["job_id"])


@pytest.fixture(scope="module")
def client_id(cluster) -> str:
    name = f"p1_host{random.randrange(10**6)}.example.org"
    created = requests.post(
        f"{cluster[0]}/v2/p1/clients", json={"client_id": name}, headers=HEADERS, timeout=60
    )
    assert created.status_code == 201
    return name


def test_racing_updates_lose_nothing(cluster, client_id):
    """Read-modify-write with If-Match from many writers: every increment survives."""
    job_id = make_job_on(cluster[0], client_id)
    writers, rounds = 6, 8
    server_errors = []

    def writer(number: int) -> None:
        session = requests.Session()
        done = 0
        for attempt in itertools.count():
            assert attempt < 500, "too many conflicts"
            base = cluster[(number + attempt) % len(cluster)]
            current = session.get(f"{base}/v2/p1/jobs/{job_id}", headers=HEADERS, timeout=60)
            count = int(current.json()["description"] or 0)
            result = session.patch(
                f"{base}/v2/p1/jobs/{job_id}",
                json={"description": str(count + 1)},
                headers={**HEADERS, "If-Match": current.headers["ETag"]},
                timeout=60,
            )
            if result.status_code >= 500:
                server_errors.append(result.text)
            if result.status_code == 200:
                done += 1
                if done == rounds:
                    return
            else:
                assert result.status_code == 412, result.text

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    assert server_errors == []
    final = requests.get(f"{cluster[1]}/v2/p1/jobs/{job_id}", headers=HEADERS, timeout=60)
    assert final.json()["description"] == str(writers * rounds)
    assert final.headers["ETag"] == f'"{1 + writers * rounds}"'


def test_two_schedulers_share_sessions(cluster, client_id):
    """Two schedulers start and end the same sessions at once: the serial outcome, no 5xx."""
    sessions = []
    for _ in range(6):
        created = requests.post(
            f"{cluster[0]}/v2/p1/sessions",
            json={"schedule": {}, "hold_off": 3600},
            headers=HEADERS,
            timeout=60,
        )
        session_id = created.json()["session_id"]
        jobs = [make_job_on(cluster[0], client_id) for _ in range(2)]
        for job_id in jobs:
            added = requests.put(
                f"{cluster[1]}/v2/p1/sessions/{session_id}/jobs/{job_id}",
                headers=HEADERS,
                timeout=60,
            )
            assert added.status_code == 204
        sessions.append((session_id, jobs))
    barrier = threading.Barrier(2)
    answers: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    def scheduler(number: int) -> None:
        session = requests.Session()
        for session_id, jobs in sessions:
            barrier.wait(timeout=60)
            base = cluster[number % len(cluster)]
            url = f"{base}/v2/p1/sessions/{session_id}/action"
            job_id = jobs[number]
            started = session.post(
                url,
                json={"start": {"job_id": job_id, "current_tag": 0}},
                headers=HEADERS,
                timeout=60,
            )
            ended = session.post(
                url,
                json={"end": {"job_id": job_id, "current_tag": 1, "result": "success"}},
                headers=HEADERS,
                timeout=60,
            )
            with lock:
                answers.append(
                    (started.json()["result"], ended.json()["result"], started.status_code)
                )

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(scheduler, range(2)))
    assert answers == [("success", "success", 202)] * (2 * len(sessions))
    for session_id, jobs in sessions:
        final = requests.get(
            f"{cluster[2]}/v2/p1/sessions/{session_id}", headers=HEADERS, timeout=60
        )
        document = final.json()
        assert document["session_tag"] == 1
        assert (document["status"], document["result"]) == ("completed", "success")
        assert {document["jobs"][job]["status"] for job in jobs} == {"completed"}
