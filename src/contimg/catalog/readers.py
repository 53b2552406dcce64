"""Readers of the survey catalogues the master catalog is built from.

Each survey release has a :class:`SurveyFormat`: a mapping from the fields the
build needs (``ra``, ``dec``, ``flux``...) to the release's column names and to
the unit assumed when a file carries none. Files are read with
:mod:`astropy.table` (FITS, CSV/ECSV or VOTable); units given by the file
(FITS ``TUNIT``, VOTable ``unit``, ECSV) are honoured and converted; a column
without a unit is taken in the documented default unit. Column names may be
overridden per field (``--map nvss.flux=S1400``).

The defaults are the published releases (docs/catalog.md has the table):

* NVSS: VizieR VIII/65/nvss (Condon et al. 1998);
* FIRST: VizieR VIII/92/first14 (White et al. 1997, 14dec17 release);
* VLASS: CIRADA Epoch 1 Quick Look components (Gordon et al. 2021).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy import units as u
from astropy.coordinates import Angle
from astropy.table import Table

from contimg.errors import ContimgError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FieldSpec:
    """Where one field of a survey lives in its published files."""

    column: str
    """Column name in the published release."""
    unit: u.UnitBase | None
    """Unit assumed when the file gives none; values are returned in this unit."""
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class SurveyFormat:
    """The column mapping of one survey release."""

    survey: str
    release: str
    fields: Mapping[str, FieldSpec]

    def with_columns(self, overrides: Mapping[str, str] | None) -> SurveyFormat:
        """This format with some fields read from other columns."""
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(self.fields))
        if unknown:
            raise ContimgError(
                f"unknown {self.survey} field(s) {', '.join(unknown)} in the column mapping; "
                f"fields are {', '.join(self.fields)}"
            )
        new = {
            name: FieldSpec(
                overrides.get(name, spec.column), spec.unit, spec.required, spec.description
            )
            for name, spec in self.fields.items()
        }
        return SurveyFormat(self.survey, self.release, new)


ARCSEC = u.arcsec
NVSS_FORMAT = SurveyFormat(
    survey="nvss",
    release="VizieR VIII/65/nvss (NVSS, Condon et al. 1998)",
    fields={
        "name": FieldSpec("NVSS", None, False, "source name, e.g. 123456.7+420312"),
        "ra": FieldSpec("RAJ2000", u.deg, True, "right ascension J2000"),
        "dec": FieldSpec("DEJ2000", u.deg, True, "declination J2000"),
        "flux": FieldSpec("S1.4", u.mJy, True, "integrated 1.4 GHz flux density"),
        "flux_err": FieldSpec("e_S1.4", u.mJy, True, "its error"),
    },
)
FIRST_FORMAT = SurveyFormat(
    survey="first",
    release="VizieR VIII/92/first14 (FIRST 14dec17, White et al. 1997)",
    fields={
        "name": FieldSpec("FIRST", None, False, "source name"),
        "ra": FieldSpec("RAJ2000", u.deg, True, "right ascension J2000"),
        "dec": FieldSpec("DEJ2000", u.deg, True, "declination J2000"),
        "maj": FieldSpec("Maj", ARCSEC, True, "deconvolved major axis (FWHM)"),
        "min": FieldSpec("Min", ARCSEC, False, "deconvolved minor axis (FWHM)"),
        "pa": FieldSpec("PA", u.deg, False, "deconvolved position angle"),
    },
)
VLASS_FORMAT = SurveyFormat(
    survey="vlass",
    release="CIRADA VLASS Epoch 1 Quick Look components (Gordon et al. 2021)",
    fields={
        "name": FieldSpec("Component_name", None, False, "component name"),
        "ra": FieldSpec("RA", u.deg, True, "right ascension J2000"),
        "dec": FieldSpec("DEC", u.deg, True, "declination J2000"),
        "flux": FieldSpec("Total_flux", u.mJy, True, "integrated 3 GHz flux density"),
    },
)
FORMATS: dict[str, SurveyFormat] = {f.survey: f for f in (NVSS_FORMAT, FIRST_FORMAT, VLASS_FORMAT)}

_FORMAT_BY_SUFFIX = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
    ".vot": "votable",
    ".votable": "votable",
    ".xml": "votable",
}


@dataclass
class SurveyTable:
    """One survey catalogue, read and converted: positions in deg, other fields in the
    default units of its :class:`SurveyFormat`. Arrays have shape (n_rows,)."""

    survey: str
    path: Path
    ra_deg: FloatArray
    dec_deg: FloatArray
    names: list[str] | None
    values: dict[str, FloatArray] = field(default_factory=dict)
    """Other numeric fields by field name (NaN where missing)."""

    def __len__(self) -> int:
        return int(self.ra_deg.shape[0])


def guess_table_format(path: Path) -> str:
    """The astropy.table format of ``path``, from its suffix (``.gz`` allowed)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[suffixes[-1]]
    raise ContimgError(
        f"{path}: cannot tell the table format from the file name; "
        "use .fits, .csv, .ecsv or .vot/.xml (VOTable)"
    )


def _resolve(available: list[str], fmt: SurveyFormat, path: Path) -> dict[str, str]:
    """Field -> actual column name (exact match first, then case-insensitive)."""
    lower: dict[str, list[str]] = {}
    for col in available:
        lower.setdefault(col.lower(), []).append(col)
    found: dict[str, str] = {}
    missing: list[str] = []
    for name, spec in fmt.fields.items():
        if spec.column in available:
            found[name] = spec.column
        elif len(lower.get(spec.column.lower(), [])) == 1:
            found[name] = lower[spec.column.lower()][0]
        elif spec.required:
            missing.append(f"'{spec.column}' ({name})")
    if missing:
        shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
        raise ContimgError(
            f"{path}: {fmt.survey.upper()} file lacks column {', '.join(missing)}; "
            f"it has: {shown or 'no columns'}. Expected the {fmt.release} layout, or map the "
            f"column with --map {fmt.survey}.FIELD=COLUMN"
        )
    return found


def _read_table(path: Path, fmt: SurveyFormat, table_fmt: str) -> tuple[Table, dict[str, str]]:
    try:
        if table_fmt == "ascii.csv":
            # Read the header first, then only the columns needed (much faster).
            head = Table.read(path, format=table_fmt, data_end=1)
            mapping = _resolve(list(head.colnames), fmt, path)
            table = Table.read(path, format=table_fmt, include_names=sorted(set(mapping.values())))
        else:
            with warnings.catch_warnings():
                # VizieR VOTables and FITS files carry units astropy does not know
                # (e.g. "mJy/beam" spelt differently); those columns fall back below.
                warnings.simplefilter("ignore", u.UnitsWarning)
                table = (
                    Table.read(path, format=table_fmt, memmap=True)
                    if table_fmt == "fits"
                    else Table.read(path, format=table_fmt)
                )
            mapping = _resolve(list(table.colnames), fmt, path)
    except ContimgError:
        raise
    except FileNotFoundError:
        raise ContimgError(f"{path}: no such file") from None
    except Exception as exc:  # astropy raises many kinds for unreadable files
        raise ContimgError(
            f"{path}: cannot read it as {table_fmt} ({type(exc).__name__}: {exc})"
        ) from None
    return table, mapping


def _mask(col: Any) -> npt.NDArray[np.bool_] | None:
    mask = getattr(col, "mask", None)
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    return m if m.shape and m.any() else None


def _as_float(col: Any) -> FloatArray:
    """A numeric column as float64, masked entries NaN."""
    data = np.asarray(col)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"not numeric (dtype {data.dtype})")
    values = np.array(data, dtype=np.float64)
    mask = _mask(col)
    if mask is not None:
        values[mask] = np.nan
    return values


def _as_text(col: Any) -> npt.NDArray[np.str_]:
    """A column as strings, masked entries empty."""
    values = np.char.strip(np.asarray(col).astype(str))
    mask = _mask(col)
    if mask is not None:
        values[mask] = ""
    return values


def _quantity(table: Table, column: str, spec: FieldSpec, path: Path, survey: str) -> FloatArray:
    col = table[column]
    try:
        values = _as_float(col)
    except TypeError as exc:
        raise ContimgError(f"{path}: {survey.upper()} column '{column}' is {exc}") from None
    unit = getattr(col, "unit", None)
    if spec.unit is None or unit is None or str(unit) == "":
        return values
    if isinstance(unit, u.UnrecognizedUnit):
        raise ContimgError(
            f"{path}: {survey.upper()} column '{column}' has unit '{unit}', which astropy "
            f"does not understand; expected something convertible to {spec.unit}"
        )
    try:
        return np.asarray((values * unit).to_value(spec.unit), dtype=np.float64)
    except u.UnitConversionError:
        raise ContimgError(
            f"{path}: {survey.upper()} column '{column}' is in {unit}, "
            f"not convertible to {spec.unit}"
        ) from None


def _angle(
    table: Table, column: str, spec: FieldSpec, path: Path, survey: str, *, ra: bool
) -> FloatArray:
    col = table[column]
    if np.asarray(col).dtype.kind in "US":  # sexagesimal strings, e.g. "12 34 56.7"
        try:
            text = _as_text(col)
            return np.asarray(Angle(text, unit=u.hourangle if ra else u.deg).deg, dtype=np.float64)
        except Exception as exc:
            raise ContimgError(
                f"{path}: {survey.upper()} column '{column}' holds text that is not an angle "
                f"({exc})"
            ) from None
    return _quantity(table, column, spec, path, survey)


def _check_positions(
    ra: FloatArray, dec: FloatArray, path: Path, survey: str, cols: tuple[str, str]
) -> FloatArray:
    bad = ~(np.isfinite(ra) & np.isfinite(dec))
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ContimgError(
            f"{path}: {survey.upper()} rows {rows} (0-based) have no position in "
            f"'{cols[0]}'/'{cols[1]}'; {int(bad.sum())} rows in all"
        )
    out = np.abs(dec) > 90.0
    if out.any():
        rows = np.flatnonzero(out)[:5].tolist()
        raise ContimgError(
            f"{path}: {survey.upper()} column '{cols[1]}' has declinations beyond +-90 deg "
            f"(rows {rows}); is the unit right?"
        )
    return np.asarray(np.mod(ra, 360.0), dtype=np.float64)


def read_survey(
    path: Path | str,
    fmt: SurveyFormat,
    *,
    columns: Mapping[str, str] | None = None,
    table_format: str | None = None,
) -> SurveyTable:
    """Read one survey catalogue file.

    Parameters
    ----------
    path
        FITS, CSV/ECSV or VOTable file.
    fmt
        The survey release's column mapping (:data:`NVSS_FORMAT` ...).
    columns
        Field -> column name overrides of ``fmt``.
    table_format
        astropy.table format name; default from the file suffix.

    Raises
    ------
    ContimgError
        Unreadable file, a missing column, a non-numeric or wrongly dimensioned
        column, or rows without a position; the message names file and column.
    """
    path = Path(path)
    fmt = fmt.with_columns(columns)
    if not path.is_file():
        raise ContimgError(f"{path}: no such {fmt.survey.upper()} catalogue file")
    tfmt = table_format or guess_table_format(path)
    table, mapping = _read_table(path, fmt, tfmt)
    ra = _angle(table, mapping["ra"], fmt.fields["ra"], path, fmt.survey, ra=True)
    dec = _angle(table, mapping["dec"], fmt.fields["dec"], path, fmt.survey, ra=False)
    ra = _check_positions(ra, dec, path, fmt.survey, (mapping["ra"], mapping["dec"]))
    names: list[str] | None = None
    if "name" in mapping:
        names = [str(x) for x in _as_text(table[mapping["name"]]).tolist()]
    values: dict[str, FloatArray] = {}
    for name, spec in fmt.fields.items():
        if name in ("ra", "dec", "name"):
            continue
        if name in mapping:
            values[name] = _quantity(table, mapping[name], spec, path, fmt.survey)
        else:
            values[name] = np.full(ra.shape, np.nan)
    log.info("read %d %s rows from %s", ra.size, fmt.survey.upper(), path)
    return SurveyTable(fmt.survey, path, ra, np.asarray(dec, dtype=np.float64), names, values)


def iau_names(ra_deg: npt.ArrayLike, dec_deg: npt.ArrayLike) -> list[str]:
    """NVSS-style position names ``HHMMSS.s+DDMMSS`` (truncated, IAU practice).

    Parameters
    ----------
    ra_deg, dec_deg : array_like, shape (n,)
        J2000 position (deg).
    """
    ra = np.mod(np.asarray(ra_deg, dtype=np.float64), 360.0)
    dec = np.asarray(dec_deg, dtype=np.float64)
    tenth_s = np.floor(ra / 15.0 * 36000.0 + 1e-6).astype(np.int64) % (24 * 36000)
    hh, rem = np.divmod(tenth_s, 36000)
    mm, ds = np.divmod(rem, 600)
    arcsec = np.floor(np.abs(dec) * 3600.0 + 1e-6).astype(np.int64)
    dd, rem2 = np.divmod(arcsec, 3600)
    dm, dsec = np.divmod(rem2, 60)
    sign = np.where(dec < 0, "-", "+")
    return [
        f"{h:02d}{m:02d}{s // 10:02d}.{s % 10:d}{g}{d:02d}{am:02d}{asec:02d}"
        for h, m, s, g, d, am, asec in zip(
            hh.tolist(),
            mm.tolist(),
            ds.tolist(),
            sign.tolist(),
            dd.tolist(),
            dm.tolist(),
            dsec.tolist(),
            strict=True,
        )
    ]


def nvss_source_ids(table: SurveyTable) -> list[str]:
    """``source_id`` of every NVSS row: ``"NVSS J" + name``.

    The name comes from the file's name column or, without one (or where it is
    empty), from the position (:func:`iau_names`). Names already starting with
    ``NVSS`` or ``J`` are not prefixed twice.
    """
    if table.names is None:
        names = np.asarray(iau_names(table.ra_deg, table.dec_deg))
    else:
        names = np.asarray(table.names, dtype=str)
        empty = np.strings.str_len(names) == 0
        if empty.any():
            derived = np.asarray(iau_names(table.ra_deg[empty], table.dec_deg[empty]))
            names = names.astype(object)
            names[empty] = derived
            names = names.astype(str)
    upper = np.strings.upper(names)
    out = np.where(
        np.strings.startswith(upper, "NVSS"),
        names,
        np.where(
            np.strings.startswith(names, "J"),
            np.strings.add("NVSS ", names),
            np.strings.add("NVSS J", names),
        ),
    )
    return [str(x) for x in out.tolist()]
