"""SQL of the ingest database: the queue, subband files, performance metrics, file log.

Every function takes a ``Connection`` inside a transaction opened by the caller
(``Database.write()`` for changes) and runs on SQLite and PostgreSQL. Worker
transitions are conditional on the lease owner, so a worker that lost its lease
cannot overwrite what another worker did.

By concern: :mod:`.files` (the file log), :mod:`.groups` (groups, their subbands,
states and metrics row), :mod:`.workers` (leases and worker transitions). Callers use
the package: ``from contimg.db.queries import ingest as iq``.
"""

from __future__ import annotations

from contimg.db.queries.ingest.files import (
    FileRow,
    file_rows,
    file_status,
    forget_waiting,
    group_file_rows,
    groups_near,
    insert_waiting,
    known_ignored,
    log_ignored,
    observe_file,
    rejected_files,
    set_file_outcome,
    update_checks,
    waiting_paths,
)
from contimg.db.queries.ingest.groups import (
    ACTIVE_STATES,
    STAGE_COLUMNS,
    STATES,
    add_subband,
    count_by_state,
    create_group,
    failed_groups,
    group_exists,
    group_row,
    group_state,
    list_groups,
    metrics_row,
    rename_group,
    reset_for_retry,
    set_calibrators,
    set_state,
    stale_collecting,
    subband_count,
    subband_entry,
    subbands,
)
from contimg.db.queries.ingest.workers import (
    advance,
    claim_next,
    complete,
    defer,
    fail,
    has_future_work,
    reap_expired,
    release,
    renew_lease,
)

__all__ = [
    "ACTIVE_STATES",
    "STAGE_COLUMNS",
    "STATES",
    "FileRow",
    "add_subband",
    "advance",
    "claim_next",
    "complete",
    "count_by_state",
    "create_group",
    "defer",
    "fail",
    "failed_groups",
    "file_rows",
    "file_status",
    "forget_waiting",
    "group_exists",
    "group_file_rows",
    "group_row",
    "group_state",
    "groups_near",
    "has_future_work",
    "insert_waiting",
    "known_ignored",
    "list_groups",
    "log_ignored",
    "metrics_row",
    "observe_file",
    "reap_expired",
    "rejected_files",
    "release",
    "rename_group",
    "renew_lease",
    "reset_for_retry",
    "set_calibrators",
    "set_file_outcome",
    "set_state",
    "stale_collecting",
    "subband_count",
    "subband_entry",
    "subbands",
    "update_checks",
    "waiting_paths",
]
