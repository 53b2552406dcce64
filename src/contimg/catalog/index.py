"""Keeping the SQLite cone index (``sources_healpix``) equal to ``sources``.

``sources_healpix`` is a copy of every ``sources`` row keyed by its HEALPix
pixel (see :mod:`contimg.catalog.cone`). Any program may write ``sources``
(the catalog build, ``contimg``'s own inserts, or another tool with plain
``INSERT``/``UPDATE``/``DELETE``), and a pixel cannot be computed in a SQLite
trigger portably, so the copy is kept exact in two parts:

* triggers on ``sources`` (migration ``master_sources_0003``) write the id of
  every inserted, updated, replaced or deleted row into
  ``sources_healpix_pending``. They need nothing but SQLite, so another
  program's writes are tracked too;
* a cone search reads the ``sources_healpix`` rows whose id is NOT pending,
  plus the ``sources`` rows whose id IS pending (both trimmed to the exact
  radius), so its answer equals a brute-force search over ``sources`` at every
  moment. :func:`sync_pending` folds the pending rows into the copy (the cone
  search does it itself once more than :data:`SYNC_THRESHOLD` are pending;
  ``contimg catalog reindex`` does it on demand).

A copy that cannot be trusted is never read silently: when the triggers are
missing (dropped by hand, or a database taken back to ``master_sources_0002``
and written there) the cone search refuses with the fix
(``contimg catalog reindex``), which rebuilds the copy from ``sources`` and
re-creates the triggers. :func:`contimg.db.queries.cone_index.index_problems` is
the full consistency check of ``contimg db check``.

This module decides what to do and computes the pixels; the SQL (triggers, pending
list, rebuild steps) is in :mod:`contimg.db.queries.cone_index`.

On PostgreSQL none of this exists: q3c indexes ``sources`` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sqlalchemy.engine import Connection

from contimg.db.queries import cone_index as ci
from contimg.errors import ContimgError

log = logging.getLogger(__name__)

SYNC_THRESHOLD = 20_000
"""More pending rows than this and a cone search folds them into the copy first."""

_REBUILD_CHUNK = 200_000


def _rows_with_pixels(rows: Sequence[ci.SourceTuple]) -> list[ci.CopyTuple]:
    """``sources`` rows (SOURCE_COLUMNS order) -> ``sources_healpix`` rows
    (HEALPIX_COLUMNS order), sorted by pixel. Raises on a position that is not one."""
    from contimg.catalog.cone import healpix_index
    from contimg.science.crossmatch import unit_vectors

    if not rows:
        return []
    ids = [r[0] for r in rows]
    try:
        ra = np.array([r[1] for r in rows], dtype=np.float64)
        dec = np.array([r[2] for r in rows], dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(r for r in rows if not _is_number(r[1]) or not _is_number(r[2]))
        raise ContimgError(
            f"master_sources table sources, row source_id={bad[0]!r}: ra_deg={bad[1]!r}, "
            f"dec_deg={bad[2]!r} is not a position in degrees; correct or delete that row"
        ) from None
    bad_pos = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
    if bad_pos.any():
        i = int(np.flatnonzero(bad_pos)[0])
        raise ContimgError(
            f"master_sources table sources, row source_id={ids[i]!r}: ra_deg={ra[i]!r}, "
            f"dec_deg={dec[i]!r} is not a sky position; correct or delete that row"
        )
    hpx = healpix_index(ra, dec)
    xyz = unit_vectors(ra, dec)
    order = np.lexsort((np.asarray(ids, dtype=object).astype(str), hpx))
    hx = hpx.tolist()
    x, y, z = xyz[:, 0].tolist(), xyz[:, 1].tolist(), xyz[:, 2].tolist()
    return [(hx[i], x[i], y[i], z[i], *rows[i]) for i in order.tolist()]


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def rebuild(conn: Connection) -> int:
    """Rebuild the whole copy from ``sources`` in the caller's transaction (SQLite);
    empties the pending list. Returns the number of rows indexed.

    Only (source_id, ra_deg, dec_deg) cross into Python, in chunks, to get their
    pixels (into a temporary table); SQLite then writes the copy from ``sources``
    in pixel order, so every b-tree insert is an append and the rows of nearby
    pixels end up stored together (what makes a cone a few contiguous reads).
    """
    cache = ci.cache_size(conn)
    ci.set_cache_size(conn, -131072)  # 128 MB for this rebuild
    try:
        return _rebuild(conn)
    finally:
        ci.set_cache_size(conn, cache)


def _rebuild(conn: Connection) -> int:
    ci.start_rebuild(conn)
    n = 0
    for rows in ci.position_chunks(conn, chunk=_REBUILD_CHUNK):
        ci.add_pixels(conn, _rows_with_pixels(rows))
        n += len(rows)
    ci.finish_rebuild(conn)
    return n


def sync_pending(conn: Connection) -> int:
    """Fold the pending rows into the copy, in the caller's write transaction (SQLite).

    The copy's rows of pending ids are deleted (one pass over the copy: its key is
    the pixel, and the old pixel of a changed row is not known), the current
    ``sources`` rows of those ids are given pixels and inserted. Returns how many
    ids were pending.
    """
    n = ci.pending_count(conn)
    if n == 0:
        return 0
    ci.delete_pending_copies(conn)
    ci.insert_copy(conn, _rows_with_pixels(ci.pending_sources(conn)))
    ci.clear_all_pending(conn)
    return n


def reindex(conn: Connection, *, full: bool = False) -> tuple[str, int]:
    """Make the copy exact again (SQLite, caller's write transaction).

    Re-creates missing triggers; rebuilds from ``sources`` when ``full``, when the
    triggers were missing or when :func:`~contimg.db.queries.cone_index.index_problems`
    finds the copy stale; otherwise folds the pending rows in. Returns (what was done,
    rows).
    """
    missing = ci.missing_triggers(conn)
    if missing:
        ci.drop_triggers(conn)
        ci.create_triggers(conn)
    if not full and not missing:
        problems, _ = ci.index_problems(conn)
        if not problems:
            return "synced", sync_pending(conn)
    return "rebuilt", rebuild(conn)
