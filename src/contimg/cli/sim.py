"""``contimg sim``: simulated reference catalogs and DSA-110 observations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "Simulate a known sky: NVSS/FIRST/VLASS-like catalogs with a truth file, and "
        "DSA-110 drift-scan groups written as UVH5 subband files. See docs/simulator.md."
    ),
    no_args_is_help=True,
)

DEFAULT_EPOCH = "2025-10-02T00:00:00"


@app.command()
def catalogs(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for nvss.fits, first.fits, vlass.fits, sky_truth.json."
        ),
    ],
    ra: Annotated[float, typer.Option("--ra", help="Field centre RA (J2000, deg).")] = 202.78,
    dec: Annotated[float, typer.Option("--dec", help="Field centre Dec (J2000, deg).")] = 30.51,
    radius: Annotated[float, typer.Option("--radius", help="Field radius (deg).")] = 5.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same sky).")] = 0,
    epoch: Annotated[
        str,
        typer.Option(help="Start (UTC ISO) of the window in which variable sources vary."),
    ] = DEFAULT_EPOCH,
    span_days: Annotated[
        float, typer.Option(help="Length of that window, days (>= 2: multi-day ESEs).")
    ] = 1.0,
    density: Annotated[
        float, typer.Option(help="Sources per deg^2 above 2.5 mJy (NVSS: 53).")
    ] = 53.0,
    min_flux: Annotated[
        float, typer.Option(help="Faintest true 1.4 GHz flux (mJy); counts keep their shape.")
    ] = 2.5,
    max_flux: Annotated[
        float, typer.Option(help="Brightest source (mJy), calibrators aside.")
    ] = 5000.0,
) -> None:
    """Write NVSS-, FIRST- and VLASS-like catalogs of a simulated sky, and its truth."""
    from contimg.errors import ContimgError
    from contimg.sim.astro import mjd_from_iso
    from contimg.sim.sky import make_sky, write_catalogs

    if span_days <= 0:
        raise ContimgError(f"--span-days must be positive (got {span_days})")
    if density <= 0:
        raise ContimgError(f"--density must be positive (got {density})")
    if not 0 < min_flux < max_flux:
        raise ContimgError(f"need 0 < --min-flux < --max-flux (got {min_flux}, {max_flux})")
    sky = make_sky(
        ra_deg=ra,
        dec_deg=dec,
        radius_deg=radius,
        seed=seed,
        epoch_mjd=mjd_from_iso(epoch),
        span_days=span_days,
        density_per_deg2=density,
        min_flux_mjy=min_flux,
        max_flux_mjy=max_flux,
    )
    paths = write_catalogs(sky, out)
    n_var = sum(1 for s in sky.sources if s.variability.get("kind") != "constant")
    cals = [s.calibrator for s in sky.sources if s.calibrator]
    typer.echo(
        f"{len(sky.sources)} sources ({n_var} variable; calibrators: "
        f"{', '.join(c for c in cals if c) or 'none'}) in {out}:"
    )
    for name, p in paths.items():
        typer.echo(f"  {name:6s} {p}")


@app.command()
def observe(
    out: Annotated[Path, typer.Option("--out", help="Directory for the UVH5 files (flat).")],
    catalog_dir: Annotated[
        Path, typer.Option("--catalog-dir", help="Directory written by 'contimg sim catalogs'.")
    ],
    start: Annotated[
        str,
        typer.Option(help="UTC ISO start of the first group (earliest start with --calibrator)."),
    ] = DEFAULT_EPOCH,
    groups: Annotated[int, typer.Option("--groups", help="Consecutive groups of a day's run.")] = 1,
    dec: Annotated[
        float | None,
        typer.Option("--dec", help="Pointing Dec (deg); default the calibrator's or the field's."),
    ] = None,
    preset: Annotated[str, typer.Option(help="Sizes: ci, demo or full.")] = "ci",
    seed: Annotated[int, typer.Option(help="Random seed (noise, gains, jitter).")] = 0,
    antpos: Annotated[
        Path | None,
        typer.Option(help="Station CSV (name, latitude, longitude, elevation); default T-shaped."),
    ] = None,
    calibrator: Annotated[
        str | None,
        typer.Option(help="Start so that this calibrator (e.g. 3C286) transits in the run."),
    ] = None,
    calibrator_group: Annotated[
        int, typer.Option(help="Index of the group in which the calibrator transits.")
    ] = 0,
    truth_dir: Annotated[
        Path | None, typer.Option(help="Where truth JSON goes (default OUT/truth).")
    ] = None,
    pace: Annotated[
        float | None,
        typer.Option(help="Release a group at most every PACE seconds (stream for a demo)."),
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="Pace groups at the telescope's rate (one per ~309 s).")
    ] = False,
    corrupt: Annotated[
        bool, typer.Option(help="Apply antenna gains, delays and bandpasses.")
    ] = True,
    noise: Annotated[bool, typer.Option(help="Add radiometer noise.")] = True,
    skip_existing: Annotated[
        bool,
        typer.Option(help="Skip groups already written (their truth file exists): resume a run."),
    ] = False,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            help="Observe the same groups on this many successive sidereal days (same LST: "
            "the telescope's revisits of a strip of sky).",
        ),
    ] = 1,
    select: Annotated[
        str | None,
        typer.Option(
            help="Only these of the day's groups, e.g. '0,8-10' (0-based; the rest are skipped).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write simulated DSA-110 groups (16 UVH5 subband files each) and their truth."""
    import signal

    from contimg.sim.astro import mjd_from_iso
    from contimg.sim.observe import parse_selection, plan_run, run_groups
    from contimg.telescope import DSA110

    cfg = plan_run(
        out_dir=out,
        catalog_dir=catalog_dir,
        start_mjd=mjd_from_iso(start),
        n_groups=groups,
        dec_deg=dec,
        preset=preset,
        seed=seed,
        antpos=antpos,
        calibrator=calibrator,
        calibrator_group=calibrator_group,
        truth_dir=truth_dir,
        corrupt=corrupt,
        noise=noise,
        days=days,
        select=None if select is None else parse_selection(select),
    )
    pace_s = DSA110.group_duration_s if realtime else pace
    n_total = len(cfg.plans)
    typer.echo(
        f"simulating {n_total} group(s), preset {cfg.preset.name} "
        f"({cfg.layout.n_antennas} antennas, {cfg.preset.n_chan_per_subband} channels/subband), "
        f"Dec {cfg.dec_deg:+.3f} deg, into {out}",
        err=True,
    )

    def progress(truth: dict[str, Any], dt: float) -> None:
        typer.echo(
            f"[{truth['index'] + 1}/{n_total}] group {truth['group_id']}: 16 files, "
            f"pointing RA {truth['pointing_ra_deg']:.3f} deg, {dt:.1f} s",
            err=True,
        )

    # SIGTERM (a supervisor stopping the demo) ends the run like Ctrl-C: the file being
    # written is removed, so a resumed run writes that group again.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for _ in run_groups(cfg, pace_s=pace_s, progress=progress, skip_existing=skip_existing):
        pass
    typer.echo(f"truth in {cfg.truth_dir}")
