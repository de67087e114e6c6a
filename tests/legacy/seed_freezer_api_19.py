# SPDX-License-Identifier: Apache-2.0
"""Run with freezer-api 19.0.0's own Python: fill its database through its own db API.

Usage: python seed_freezer_api_19.py CONFIG_FILE  (prints what 19.0.0 itself returns)
"""

import json
import sys

from freezer_api.common import config
from freezer_api.db.sqlalchemy import api
from oslo_config import cfg

config.parse_args(["--config-file", sys.argv[1]])
del cfg

project, user = "p1", "u1"
api.add_client(user, {"client_id": "p1_host1", "hostname": "host1"}, project_id=project)
action_id = api.add_action(
    user,
    {
        "freezer_action": {
            "action": "backup",
            "mode": "fs",
            "path_to_backup": "/etc",
            "backup_name": "etc",
            "container": "c",
        },
        "max_retries": 3,
    },
    project_id=project,
)
job_id = api.add_job(
    user,
    {
        "client_id": "p1_host1",
        "description": "nightly",
        "job_schedule": {"schedule_interval": "1 days", "status": "scheduled"},
        "job_actions": [
            {"action_id": action_id},
            {"freezer_action": {"action": "info", "mode": "fs"}, "max_retries": 1},
        ],
    },
    project_id=project,
)
backup_ids = [
    api.add_backup(
        user,
        {
            "backup_name": name,
            "container": "c",
            "hostname": "host1",
            "time_stamp": stamp,
            "curr_backup_level": 0,
            "job_id": job_id,
        },
        project_id=project,
    )
    for name, stamp in (("etc", 1700000000), ("var", 1700000100), ("gone", 1700000200))
]
api.delete_backup(user, backup_ids[-1], project_id=project)
session_id = api.add_session(
    user, {"schedule": {"schedule_interval": "continuous"}, "description": "s"}, project_id=project
)
print(
    json.dumps(
        {
            "project_id": project,
            "action": api.get_action(action_id, project_id=project),
            "job": api.get_job(job_id, project_id=project),
            "backups": [api.get_backup(b, project_id=project) for b in backup_ids[:2]],
            "deleted_backup": backup_ids[-1],
            "session": api.get_session(session_id, project_id=project),
            "client_id": "p1_host1",
        },
        default=str,
    )
)
