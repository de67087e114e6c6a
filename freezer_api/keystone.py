# SPDX-License-Identifier: Apache-2.0
"""Keystone trusts for jobs of central schedulers.

A central scheduler runs jobs for many projects. When a job targets a central client,
the job's owner (the trustor) delegates roles in the job's project to the service user
(the trustee), and the job carries ``user_credentials.trust_id`` for the scheduler.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from keystoneauth1.identity import v3
from keystoneauth1.session import Session
from oslo_config import cfg

from freezer_api.context import Identity
from freezer_api.errors import StorageUnavailable, Unprocessable

LOG = logging.getLogger(__name__)
IDENTITY: dict[str, Any] = {"service_type": "identity", "interface": "public", "version": (3, 0)}


def _verify(conf: cfg.ConfigOpts, section: str) -> bool | str:
    """TLS verification as [keystone_authtoken] (or the given section) configures it."""
    group = conf[section]
    try:
        if group.insecure:
            return False
        return str(group.cafile) if group.cafile else True
    except cfg.NoSuchOptError:
        return True


class Trusts:
    """Creates and deletes trusts with the caller's token; the trustee is the service user."""

    def __init__(self, conf: cfg.ConfigOpts, auth_section: str, roles: list[str]) -> None:
        ks_loading.register_auth_conf_options(conf, auth_section)
        self._service_auth = ks_loading.load_auth_from_conf_options(conf, auth_section)
        self._session = Session(auth=self._service_auth, verify=_verify(conf, auth_section))
        self._roles = roles

    @cached_property
    def trustee_user_id(self) -> str:
        user_id = self._session.get_user_id()
        if not user_id:
            raise Unprocessable("The service user of [centralized_scheduler] has no user id.")
        return str(user_id)

    def _caller(self, identity: Identity) -> Session:
        auth_url = self._session.get_endpoint(**IDENTITY)
        if not auth_url:
            raise Unprocessable("The Keystone catalog has no public identity endpoint.")
        token = v3.Token(
            auth_url=auth_url, token=identity.auth_token, project_id=identity.project_id
        )
        return Session(auth=token, verify=self._session.verify)

    def create(self, identity: Identity) -> dict[str, str]:
        """Create a trust from the caller to the service user; return ``user_credentials``."""
        body = {
            "trust": {
                "trustor_user_id": identity.user_id,
                "trustee_user_id": self.trustee_user_id,
                "project_id": identity.project_id,
                "impersonation": False,
                "roles": [{"name": role} for role in self._roles],
            }
        }
        try:
            response = self._caller(identity).post(
                "/OS-TRUST/trusts", json=body, endpoint_filter=IDENTITY
            )
        except ks_exceptions.ConnectFailure as error:
            raise StorageUnavailable(f"Keystone is unreachable: {error}") from None
        except ks_exceptions.HttpError as error:
            raise Unprocessable(
                f"Keystone refused a trust for the central scheduler: {error.message}"
            ) from None
        trust: dict[str, Any] = response.json()["trust"]
        return {"trust_id": trust["id"], "trustor_user_id": identity.user_id}

    def delete(self, identity: Identity, trust_id: str) -> None:
        """Delete a trust no job uses any more; a failure is logged, not raised."""
        try:
            self._caller(identity).delete(f"/OS-TRUST/trusts/{trust_id}", endpoint_filter=IDENTITY)
        except ks_exceptions.ClientException as error:
            LOG.warning("could not delete trust %s: %s", trust_id, error)
