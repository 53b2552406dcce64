"""Build the master catalog (``master_sources.sources``) from NVSS, FIRST and VLASS.

The build reads the survey files (:mod:`contimg.catalog.readers`), crossmatches
FIRST and VLASS to NVSS (:mod:`contimg.science.crossmatch`, science.md section
5), and loads a COMPLETE new catalog database beside the live one, which is
then swapped in atomically. Nothing of the live catalog changes until that
swap, so a failed or killed build leaves the previous catalog as it was:

* SQLite: the new database is built (migrated to head, so it carries the same
  version record) in a scratch file in the live file's directory, then copied
  over the live database with SQLite's online-backup API in ONE write
  transaction. Readers see the old catalog or the new one. (Renaming the file
  over the live one would be atomic too, but in WAL mode a reader that still
  has the old file open shares its ``-wal``/``-shm`` files with the new one,
  which SQLite documents as a way to corrupt a database; the backup API is the
  supported way to replace a live database's content.) When there is no live
  file yet, the scratch file is simply renamed into place.
* PostgreSQL: the new catalog is built in a staging schema (migrated to head),
  then, in one transaction, the live schema is renamed away, the staging
  schema renamed to ``master_sources`` and the old one dropped.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contimg import __version__
from contimg.catalog.cone import HEALPIX_ORDER, healpix_index
from contimg.catalog.readers import (
    FIRST_FORMAT,
    NVSS_FORMAT,
    VLASS_FORMAT,
    SurveyTable,
    nvss_source_ids,
    read_survey,
)
from contimg.config import Settings
from contimg.db import migrations
from contimg.db.engine import Database, _postgres_engine, open_database
from contimg.db.queries import cone_index as ci
from contimg.db.queries import sources as q
from contimg.errors import ContimgError
from contimg.science import crossmatch as xm

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
"""``progress(step, done, total)``: called as the build advances."""

CHUNK_ROWS = 100_000
PG_STAGING_PREFIX = "master_sources__build_"


def _no_progress(step: str, done: int, total: int) -> None:
    pass


@dataclass
class CatalogColumns:
    """The ``sources`` columns of a new catalog, one array per column, shape (n,).

    Fluxes in Jy, sizes in arcsec, angles in deg; NaN where the column is NULL.
    """

    source_id: list[str]
    ra_deg: npt.NDArray[np.float64]
    dec_deg: npt.NDArray[np.float64]
    s_nvss: npt.NDArray[np.float64]
    snr_nvss: npt.NDArray[np.float64]
    s_vlass: npt.NDArray[np.float64]
    alpha: npt.NDArray[np.float64]
    resolved_flag: npt.NDArray[np.int64]
    confusion_flag: npt.NDArray[np.int64]
    first_size_maj_arcsec: npt.NDArray[np.float64]
    first_size_min_arcsec: npt.NDArray[np.float64]
    first_size_pa_deg: npt.NDArray[np.float64]
    n_first_matched: int = 0
    n_vlass_matched: int = 0
    n_renamed: int = 0
    """NVSS rows whose name repeated an earlier row's and got a ``_2``, ``_3`` suffix."""

    def __len__(self) -> int:
        return len(self.source_id)

    def take(self, order: npt.NDArray[np.int64]) -> CatalogColumns:
        """These columns with rows reordered by ``order``."""
        ids = [self.source_id[i] for i in order.tolist()]
        arrays = {
            name: getattr(self, name)[order] for name in q.SOURCE_COLUMNS if name != "source_id"
        }
        return CatalogColumns(
            source_id=ids,
            **arrays,
            n_first_matched=self.n_first_matched,
            n_vlass_matched=self.n_vlass_matched,
            n_renamed=self.n_renamed,
        )


def _unique_ids(ids: list[str]) -> tuple[list[str], int]:
    if len(set(ids)) == len(ids):
        return ids, 0
    seen: dict[str, int] = {}
    out: list[str] = []
    renamed = 0
    for sid in ids:
        if sid in seen:
            seen[sid] += 1
            new = f"{sid}_{seen[sid]}"
            while new in seen:
                seen[sid] += 1
                new = f"{sid}_{seen[sid]}"
            seen[new] = 1
            out.append(new)
            renamed += 1
        else:
            seen[sid] = 1
            out.append(sid)
    return out, renamed


def crossmatch_catalog(
    nvss: SurveyTable,
    first: SurveyTable | None = None,
    vlass: SurveyTable | None = None,
    *,
    radius_arcsec: float = xm.DEFAULT_MATCH_RADIUS_ARCSEC,
    resolved_major_arcsec: float = xm.RESOLVED_MAJOR_ARCSEC,
) -> CatalogColumns:
    """The ``sources`` columns from NVSS and (optionally) FIRST and VLASS (science.md 5).

    ``nvss.values`` carry ``flux``/``flux_err`` in mJy; FIRST ``maj``/``min``
    (arcsec) and ``pa`` (deg); VLASS ``flux`` (mJy).
    """
    n = len(nvss)
    nan = np.full(n, np.nan)
    ids, renamed = _unique_ids(nvss_source_ids(nvss))
    if renamed:
        log.warning("%s: %d NVSS names repeat; suffixed _2, _3, ...", nvss.path, renamed)
    s_nvss = nvss.values["flux"] / 1e3
    snr = xm.snr(nvss.values["flux"], nvss.values["flux_err"])
    maj, mn, pa = nan.copy(), nan.copy(), nan.copy()
    n_first = np.zeros(n, dtype=np.int64)
    n_first_matched = 0
    if first is not None and len(first):
        m = xm.match_nearest(
            nvss.ra_deg, nvss.dec_deg, first.ra_deg, first.dec_deg, radius_arcsec=radius_arcsec
        )
        hit = m.matched
        maj[hit] = first.values["maj"][m.index[hit]]
        mn[hit] = first.values["min"][m.index[hit]]
        pa[hit] = first.values["pa"][m.index[hit]]
        n_first = m.n_within
        n_first_matched = int(hit.sum())
    s_vlass = nan.copy()
    n_vlass = np.zeros(n, dtype=np.int64)
    n_vlass_matched = 0
    if vlass is not None and len(vlass):
        m = xm.match_nearest(
            nvss.ra_deg, nvss.dec_deg, vlass.ra_deg, vlass.dec_deg, radius_arcsec=radius_arcsec
        )
        hit = m.matched
        s_vlass[hit] = vlass.values["flux"][m.index[hit]] / 1e3
        n_vlass = m.n_within
        n_vlass_matched = int(hit.sum())
    return CatalogColumns(
        source_id=ids,
        ra_deg=nvss.ra_deg,
        dec_deg=nvss.dec_deg,
        s_nvss=s_nvss,
        snr_nvss=snr,
        s_vlass=s_vlass,
        alpha=xm.spectral_index(s_vlass, s_nvss),
        resolved_flag=xm.resolved_flags(maj, threshold_arcsec=resolved_major_arcsec).astype(
            np.int64
        ),
        confusion_flag=xm.confusion_flags(n_first, n_vlass).astype(np.int64),
        first_size_maj_arcsec=maj,
        first_size_min_arcsec=mn,
        first_size_pa_deg=pa,
        n_first_matched=n_first_matched,
        n_vlass_matched=n_vlass_matched,
        n_renamed=renamed,
    )


def _pylist(values: npt.NDArray[Any]) -> list[Any]:
    """Python values of a column; NaN becomes None (NULL)."""
    out: list[Any] = values.tolist()
    if values.dtype.kind == "f":
        for i in np.flatnonzero(np.isnan(values)).tolist():
            out[i] = None
    return out


def _row_chunks(
    cols: CatalogColumns, lead: Sequence[npt.NDArray[Any]] = ()
) -> Iterator[list[tuple[Any, ...]]]:
    """Chunks of ``sources`` rows, each led by the values of ``lead`` (arrays of the
    same length, e.g. the ``sources_healpix`` pixel and unit vector)."""
    n = len(cols)
    for start in range(0, n, CHUNK_ROWS):
        sl = slice(start, min(n, start + CHUNK_ROWS))
        lists = [
            cols.source_id[sl] if name == "source_id" else _pylist(getattr(cols, name)[sl])
            for name in q.SOURCE_COLUMNS
        ]
        lists[:0] = [arr[sl].tolist() for arr in lead]
        yield list(zip(*lists, strict=True))


@dataclass
class BuildReport:
    """What a build did."""

    location: str
    n_nvss: int
    n_first: int | None
    n_vlass: int | None
    n_first_matched: int
    n_vlass_matched: int
    n_renamed: int
    radius_arcsec: float
    counts: dict[str, int] = field(default_factory=dict)
    """:func:`contimg.db.queries.sources.catalog_counts` of the new catalog."""
    step_s: dict[str, float] = field(default_factory=dict)
    """Wall time per step (s)."""
    duration_s: float = 0.0


@dataclass
class BuildInputs:
    nvss_path: Path
    first_path: Path | None = None
    vlass_path: Path | None = None
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per-survey field -> column overrides, e.g. ``{"nvss": {"flux": "S1400"}}``."""


def _load(
    db: Database,
    cols: CatalogColumns,
    build_row: dict[str, Any],
    progress: ProgressFn,
    t_start: float,
) -> None:
    """Fill the (empty, at-head) catalog database ``db`` in one transaction."""
    db.engine.dispose()  # one connection only: SQLite's journal mode can then change
    engine = db.engine.execution_options(contimg_begin="IMMEDIATE")
    with engine.connect() as conn:
        if db.is_sqlite:
            q.sqlite_bulk_pragmas(conn)
        with conn.begin():
            _load_rows(conn, db, cols, build_row, progress, t_start)
        with conn.begin():
            q.analyze(conn)
        if db.is_sqlite:
            q.sqlite_wal_mode(conn)


def _load_rows(
    conn: Connection,
    db: Database,
    cols: CatalogColumns,
    build_row: dict[str, Any],
    progress: ProgressFn,
    t_start: float,
) -> None:
    n = len(cols)
    indexes = q.secondary_indexes(conn, table="sources", schema=db.schema)
    for name, _ in indexes:
        q.drop_index(conn, name=name)
    progress("write sources", 0, n)
    done = 0
    if db.is_sqlite:
        # The copy is written here with sources: the tracking triggers
        # (contimg.catalog.index) would only list every row as pending.
        triggers = ci.drop_triggers(conn)
        # SQLite: write the HEALPix-keyed copy (the cone index) in pixel order,
        # then fill ``sources`` from it in primary-key order inside SQLite: every
        # b-tree insert is an append and the rows cross from Python only once.
        hpx = healpix_index(cols.ra_deg, cols.dec_deg)
        by_hpx = np.lexsort((np.asarray(cols.source_id), hpx))
        ordered = cols.take(by_hpx)
        xyz = xm.unit_vectors(ordered.ra_deg, ordered.dec_deg)
        lead = (hpx[by_hpx], xyz[:, 0], xyz[:, 1], xyz[:, 2])
        for rows in _row_chunks(ordered, lead):
            q.bulk_insert(conn, table="sources_healpix", columns=q.HEALPIX_COLUMNS, rows=rows)
            done += len(rows)
            progress("write sources", done, n)
        progress("copy sources", 0, 1)
        q.sqlite_fill_sources_from_healpix(conn)
        ci.create_triggers(conn, triggers)
        progress("copy sources", 1, 1)
    else:
        # PostgreSQL: COPY in primary-key order; q3c is the cone index.
        by_id = np.argsort(np.asarray(cols.source_id), kind="stable")
        for rows in _row_chunks(cols.take(by_id)):
            q.bulk_insert(conn, table="sources", columns=q.SOURCE_COLUMNS, rows=rows)
            done += len(rows)
            progress("write sources", done, n)
    for i, (_, ddl) in enumerate(indexes):
        progress("index", i, len(indexes))
        q.create_index(conn, ddl=ddl)
    progress("index", len(indexes), len(indexes))
    build_row["duration_s"] = round(time.perf_counter() - t_start, 3)
    q.record_build(conn, **build_row)


def _require_head(db: Database) -> bool:
    """True when the live catalog exists (and is at head); error when it is behind."""
    st = migrations.status(db)
    if not st.exists:
        return False
    if st.unversioned or st.current != st.head:
        raise ContimgError(
            f"{db.location} is at {st.current or 'no version record'}, not {st.head}; "
            "run 'contimg db upgrade' first (the build keeps the catalog's schema version)"
        )
    return True


@contextmanager
def _sqlite_staging(settings: Settings) -> Iterator[tuple[Database, Callable[[], None]]]:
    live_path = settings.sqlite_path("master_sources")
    try:
        live_path.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".catalog-build-", dir=live_path.parent))
    except OSError as exc:
        raise ContimgError(f"cannot write in {live_path.parent}: {exc.strerror}") from exc
    stage_settings = settings.model_copy(update={"state_dir": scratch})
    stage = open_database(stage_settings, "master_sources", create_dirs=True)
    stage_path = stage_settings.sqlite_path("master_sources")

    def install() -> None:
        stage.dispose()
        live = open_database(settings, "master_sources")
        try:
            if not live_path.exists():
                os.replace(stage_path, live_path)
                return
            _require_head(live)
            _sqlite_copy_into(stage_path, live)
        finally:
            live.dispose()

    try:
        yield stage, install
    finally:
        stage.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


def _sqlite_copy_into(source_path: Path, live: Database) -> None:
    """Replace the live database's content with ``source_path``'s, in one transaction."""
    import sqlite3

    src = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        raw = live.engine.raw_connection()
        try:
            dst = raw.driver_connection
            assert isinstance(dst, sqlite3.Connection)
            src.backup(dst)  # all pages in one step = one write transaction
        finally:
            raw.close()
    except sqlite3.Error as exc:
        raise ContimgError(f"cannot replace {live.location}: {exc}") from exc
    finally:
        src.close()
    with live.engine.connect() as conn:
        q.sqlite_checkpoint(conn)


@contextmanager
def _pg_staging(settings: Settings) -> Iterator[tuple[Database, Callable[[], None]]]:
    live = open_database(settings, "master_sources")
    assert live.schema is not None
    token = uuid.uuid4().hex[:10]
    staging = f"{PG_STAGING_PREFIX}{token}"
    url = live.engine.url.render_as_string(hide_password=False)
    engine = _postgres_engine(url, schema=staging)
    stage = Database(
        name="master_sources",
        engine=engine,
        location=live.location.rsplit("#", 1)[0] + f"#{staging}",
        schema=staging,
    )

    def install() -> None:
        with live.write() as conn:
            q.pg_lock_catalog(conn, schema=live.schema or "master_sources")
            q.pg_swap_schema(
                conn,
                live=live.schema or "master_sources",
                staging=staging,
                retired=f"master_sources__old_{token}",
            )

    try:
        yield stage, install
    finally:
        stage.dispose()
        with live.engine.begin() as conn:
            q.pg_drop_schema(conn, schema=staging)  # a no-op after a successful swap
        live.dispose()


def build_catalog(
    settings: Settings,
    inputs: BuildInputs,
    *,
    radius_arcsec: float | None = None,
    progress: ProgressFn | None = None,
) -> BuildReport:
    """Build the master catalog from survey files and swap it in atomically.

    Parameters
    ----------
    settings
        Where the ``master_sources`` database lives (SQLite or PostgreSQL).
    inputs
        The NVSS file (required), FIRST and VLASS files (optional; their
        columns stay NULL without them) and column-mapping overrides.
    radius_arcsec
        Match radius (arcsec); default ``settings.catalog.match_radius_arcsec``.
    progress
        Called as ``progress(step, done, total)``.

    Raises
    ------
    ContimgError
        Unreadable input, a missing column, a live catalog not at the newest
        schema. The live catalog is untouched in every failure.
    """
    t_start = time.perf_counter()
    report_progress = progress or _no_progress
    radius = float(
        radius_arcsec if radius_arcsec is not None else settings.catalog.match_radius_arcsec
    )
    if not radius > 0:
        raise ContimgError(f"match radius must be positive, got {radius} arcsec")
    steps: dict[str, float] = {}

    def timed(step: str, t0: float) -> None:
        steps[step] = round(time.perf_counter() - t0, 3)

    live = open_database(settings, "master_sources")
    try:
        _require_head(live)  # fail before hours of work, not after
    finally:
        live.dispose()

    t0 = time.perf_counter()
    report_progress("read NVSS", 0, 1)
    nvss = read_survey(inputs.nvss_path, NVSS_FORMAT, columns=inputs.columns.get("nvss"))
    if len(nvss) == 0:
        raise ContimgError(f"{inputs.nvss_path}: the NVSS file has no rows")
    first = vlass = None
    if inputs.first_path is not None:
        report_progress("read FIRST", 0, 1)
        first = read_survey(inputs.first_path, FIRST_FORMAT, columns=inputs.columns.get("first"))
    if inputs.vlass_path is not None:
        report_progress("read VLASS", 0, 1)
        vlass = read_survey(inputs.vlass_path, VLASS_FORMAT, columns=inputs.columns.get("vlass"))
    timed("read", t0)

    t0 = time.perf_counter()
    report_progress("crossmatch", 0, 1)
    cols = crossmatch_catalog(
        nvss,
        first,
        vlass,
        radius_arcsec=radius,
        resolved_major_arcsec=settings.catalog.resolved_major_arcsec,
    )
    report_progress("crossmatch", 1, 1)
    timed("crossmatch", t0)

    build_row: dict[str, Any] = {
        "built_at": time.time(),
        "match_radius_arcsec": radius,
        "nvss_path": str(Path(inputs.nvss_path).resolve()),
        "first_path": str(Path(inputs.first_path).resolve()) if inputs.first_path else None,
        "vlass_path": str(Path(inputs.vlass_path).resolve()) if inputs.vlass_path else None,
        "n_nvss": len(nvss),
        "n_first": len(first) if first is not None else None,
        "n_vlass": len(vlass) if vlass is not None else None,
        "n_first_matched": cols.n_first_matched if first is not None else None,
        "n_vlass_matched": cols.n_vlass_matched if vlass is not None else None,
        "healpix_order": HEALPIX_ORDER,
        "duration_s": None,
        "contimg_version": __version__,
    }
    staging = _sqlite_staging if settings.backend == "sqlite" else _pg_staging
    try:
        with staging(settings) as (stage, install):
            t0 = time.perf_counter()
            migrations.upgrade(stage)
            _load(stage, cols, build_row, report_progress, t_start)
            timed("write", t0)
            t0 = time.perf_counter()
            report_progress("install", 0, 1)
            install()
            report_progress("install", 1, 1)
            timed("install", t0)
    except sa.exc.SQLAlchemyError as exc:
        raise ContimgError(
            f"catalog build failed in the database ({exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', exc)}); the previous catalog is unchanged"
        ) from exc

    live = open_database(settings, "master_sources")
    try:
        with live.read() as conn:
            counts = q.catalog_counts(conn)
    finally:
        live.dispose()
    return BuildReport(
        location=live.location,
        n_nvss=len(nvss),
        n_first=len(first) if first is not None else None,
        n_vlass=len(vlass) if vlass is not None else None,
        n_first_matched=cols.n_first_matched,
        n_vlass_matched=cols.n_vlass_matched,
        n_renamed=cols.n_renamed,
        radius_arcsec=radius,
        counts=counts,
        step_s=steps,
        duration_s=round(time.perf_counter() - t_start, 3),
    )


def parse_column_overrides(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["nvss.flux=S1400", ...]`` -> ``{"nvss": {"flux": "S1400"}}``."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, column = item.partition("=")
        survey, dot, fld = key.partition(".")
        if not (sep and dot and fld and column) or survey.lower() not in ("nvss", "first", "vlass"):
            raise ContimgError(
                f"column mapping {item!r} is not SURVEY.FIELD=COLUMN "
                "(SURVEY one of nvss, first, vlass; e.g. nvss.flux=S1400)"
            )
        out.setdefault(survey.lower(), {})[fld] = column
    return out


def insert_sources(db: Database, rows: Sequence[Mapping[str, Any]]) -> int:
    """Add a few sources to the live catalog, keeping the SQLite cone index in step.

    For small hand-made catalogs (examples, tests, seeding a demo); survey catalogs
    are loaded with :func:`build_catalog`. ``rows`` are ``sources`` columns by name
    (``source_id``, ``ra_deg`` and ``dec_deg`` required). One transaction.
    """
    from contimg.catalog.cone import healpix_index
    from contimg.science.crossmatch import unit_vectors

    rows = [dict(r) for r in rows]
    if not rows:
        return 0
    with db.write() as conn:
        q.add_sources(conn, rows=rows)
        if db.is_sqlite:  # q3c indexes the table itself on PostgreSQL
            ra = [r["ra_deg"] for r in rows]
            dec = [r["dec_deg"] for r in rows]
            hpx = healpix_index(ra, dec)
            xyz = unit_vectors(ra, dec)
            q.add_healpix_rows(
                conn,
                rows=[
                    {**r, "hpx": int(h), "x": float(v[0]), "y": float(v[1]), "z": float(v[2])}
                    for r, h, v in zip(rows, hpx, xyz, strict=True)
                ],
            )
            ci.clear_pending(conn, source_ids=[r["source_id"] for r in rows])
    return len(rows)
