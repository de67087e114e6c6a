# SPDX-License-Identifier: Apache-2.0
"""A live freezer-api process, and the official python-freezerclient pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from freezerclient.v2 import client as freezer_client
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session

from tests.processes import serving


class ProjectNoAuth(noauth.NoAuth):
    """keystoneauth's NoAuth, with the project id a token would have carried."""

    def __init__(self, project_id: str) -> None:
        super().__init__()
        self._project_id = project_id

    def get_project_id(self, session: object, **kwargs: object) -> str:
        return self._project_id


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("live")
    with serving(directory, workers=2) as served:
        yield served.base


def make_client(base: str, project_id: str) -> freezer_client.Client:
    session = ks_session.Session(auth=ProjectNoAuth(project_id))
    return freezer_client.Client(session=session, endpoint=base, project_id=project_id)


@pytest.fixture
def project_id(request: pytest.FixtureRequest) -> str:
    return f"p-{request.node.name[:40].replace('[', '-').replace(']', '')}"


@pytest.fixture
def freezer(live_server: str, project_id: str) -> freezer_client.Client:
    return make_client(live_server, project_id)
