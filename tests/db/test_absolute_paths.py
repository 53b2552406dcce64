"""products_0006 / ingest_0004 / cal_registry_0002: stored relative paths become
absolute where the file is found; the others are kept and reported (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from contimg.config import Settings
from contimg.db import cal_registry, ingest, migrations, products
from tests.conftest import init_databases


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_relative_paths_become_absolute(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbs = init_databases(settings)
    for name, rev in (
        ("products", "products_0005"),
        ("ingest", "ingest_0003"),
        ("cal_registry", "cal_registry_0001"),
    ):
        migrations.downgrade(dbs[name], to=rev)
    # As a relative --home 'home' wrote them from tmp_path (the home's parent).
    ms, img, gone = "home/products/g1.ms", "home/products/g1-image-pb.fits", "home/products/x.fits"
    (tmp_path / ms).mkdir(parents=True)
    _touch(tmp_path / img)
    _touch(tmp_path / "home/incoming/g1_sb00.hdf5")
    (tmp_path / "home/products/cal.K").mkdir(parents=True)
    with dbs.products.write() as conn:
        conn.execute(products.ms_index.insert().values(path=ms, imagename=img, stage="imaged"))
        for i, p in enumerate((img, gone)):
            conn.execute(
                products.images.insert().values(
                    id=7 + i, path=p, ms_path=ms, created_at=1.7e9, type="pbcor"
                )
            )
        conn.execute(
            products.photometry.insert().values(
                image_path=img, source_id="s1", ra_deg=1.0, dec_deg=2.0, peak_jyb=0.1,
                measured_at=1.7e9,
            )
        )  # fmt: skip
    with dbs.ingest.write() as conn:
        conn.execute(
            ingest.ingest_queue.insert().values(
                group_id="g1", state="completed", received_at=1.0, last_update=1.0
            )
        )
        conn.execute(
            ingest.subband_files.insert().values(
                group_id="g1", subband_idx=0, file_path="home/incoming/g1_sb00.hdf5",
                discovered_at=1.0,
            )
        )  # fmt: skip
    with dbs.cal_registry.write() as conn:
        conn.execute(
            cal_registry.caltables.insert().values(
                set_name="s", path="home/products/cal.K", table_type="K", order_index=0,
                valid_start_mjd=1.0, valid_end_mjd=2.0, created_at=1.0,
            )
        )  # fmt: skip
    monkeypatch.chdir("/")  # the working directory is no help
    notes = []
    for name in ("products", "ingest", "cal_registry"):
        result = migrations.upgrade(dbs[name], home=settings.home)
        assert result.after == migrations.head(name)
        notes += result.notes
    base = tmp_path.resolve()
    with dbs.products.read() as conn:
        assert conn.execute(
            sa.select(products.ms_index.c.path, products.ms_index.c.imagename)
        ).all() == [(str(base / ms), str(base / img))]
        rows = conn.execute(
            sa.select(products.images.c.id, products.images.c.path, products.images.c.ms_path)
            .order_by(products.images.c.id)
        ).all()  # fmt: skip
        assert rows == [(7, str(base / img), str(base / ms)), (8, gone, str(base / ms))]
        assert conn.execute(sa.select(products.photometry.c.image_path)).scalar_one() == str(
            base / img
        )
    with dbs.ingest.read() as conn:
        assert conn.execute(sa.select(ingest.subband_files.c.file_path)).scalar_one() == str(
            base / "home/incoming/g1_sb00.hdf5"
        )
    with dbs.cal_registry.read() as conn:
        assert conn.execute(sa.select(cal_registry.caltables.c.path)).scalar_one() == str(
            base / "home/products/cal.K"
        )
    # The one whose file is gone is kept and reported, naming the column and the path.
    assert len(notes) == 1 and "images.path: 1 relative path" in notes[0] and gone in notes[0]
    dbs.dispose()
