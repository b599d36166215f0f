"""The ``prrt-bayes`` command line (typer + rich).

Every command turns :class:`~prrt_bayes.core.errors.InputError` into a one-line message on
stderr and exit code 2 — never a traceback for bad input. The commands and their options are
documented by their help texts (``prrt-bayes COMMAND --help`` and the CLI reference page); the
Python API of
this module is what ``__all__`` lists.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prrt_bayes.core.errors import InputError
from prrt_bayes.core.vocabulary import POSTERIOR_PROBABILITIES, Quantity

__all__ = ["app", "bad_input_exits_2", "fail"]

app = typer.Typer(
    help="Bayesian evidence synthesis for PRRT (NETTER-1 + single-arm 177Lu-DOTATATE series).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Bundled published evidence and its provenance.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console() if sys.stdout.isatty() else Console(width=160)


def fail(message: str) -> None:
    """Print a one-line error and exit with code 2 (bad input).

    Parameters
    ----------
    message
        Error text (any object, via ``str``); whitespace runs, newlines included, are collapsed
        to single spaces. Printed to stderr as ``error: <message>``, without rich markup.

    Raises
    ------
    typer.Exit
        Always, with exit code 2.
    """
    Console(stderr=True).print(f"error: {' '.join(str(message).split())}", markup=False,
                               highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def bad_input_exits_2(command: Callable) -> Callable:
    """Decorator: InputError (and OSError on user paths) -> one-line message, exit code 2.

    Parameters
    ----------
    command
        A typer command function.

    Returns
    -------
    Callable
        A wrapper with the same signature and metadata (:func:`functools.wraps`) that returns
        what ``command`` returns; an :class:`InputError` or any :class:`OSError` raised by it
        is reported with :func:`fail` (an ``OSError`` as ``<filename>: <strerror>``).
    """

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as err:
            fail(str(err))
        except OSError as err:
            fail(f"{err.filename or ''}: {err.strerror or err}")

    return wrapper


def _print_frame(frame, title: str, columns: list[str] | None = None) -> None:
    table = Table(title=title, show_lines=False)
    columns = columns or list(frame.columns)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in frame[columns].itertuples(index=False):
        table.add_row(*["" if v is None or v != v else str(v) for v in row])
    console.print(table)


@data_app.command("list")
@bad_input_exits_2
def data_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every bundled source and what it contributes."""
    from prrt_bayes.evidence import list_sources

    frame = list_sources()
    if as_json:
        sys.stdout.write(frame.to_json(orient="records", indent=2) + "\n")
        return
    _print_frame(frame, "Bundled evidence sources", ["name", "kind", "n_numbers", "contributes"])


@data_app.command("show")
@bad_input_exits_2
def data_show(
    name: Annotated[str, typer.Argument(help="'netter1', 'series', a source key or a study id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show all numbers of one source with their provenance."""
    from prrt_bayes.evidence import load_netter1, load_series

    netter1, series = load_netter1(), load_series()
    netter1_frame, series_frame = netter1.frame(), series.frame()
    if name == "netter1":
        frame = netter1_frame
    elif name == "series":
        frame = series_frame
    elif name in netter1.sources:
        frame = netter1_frame[netter1_frame["source"] == name]
    elif name in series.studies:
        frame = series_frame[series_frame["study"] == name]
    else:
        known = ["netter1", "series", *netter1.sources, *series.studies]
        raise InputError(f"unknown source {name!r}; known: {', '.join(known)}")
    frame = frame.dropna(axis=1, how="all")
    if as_json:
        payload = {"name": name, "records": json.loads(frame.to_json(orient="records"))}
        if name == "netter1":
            payload["tables"] = {
                key: json.loads(table.to_json(orient="records"))
                for key, table in netter1.tables.items()
            }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    wanted = [c for c in ("cut", "study", "quantity", "arm", "time", "value", "lower", "upper",
                          "denominator", "percent", "unit", "source", "locator", "derived_from",
                          "primary") if c in frame.columns]
    _print_frame(frame, f"{name}: {len(frame)} numbers", wanted)
    if name == "netter1":
        for key, table in netter1.tables.items():
            _print_frame(table, f"NEJM {key}")


@app.command("reconstruct")
@bad_input_exits_2
def reconstruct(
    curve: Annotated[Path, typer.Option("--curve", help="Digitised KM curve CSV (time, S).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the IPD CSV (time,event).")],
    at_risk: Annotated[Path | None, typer.Option("--at-risk", help="Numbers-at-risk CSV.")] = None,
    at_risk_column: Annotated[
        str | None, typer.Option("--at-risk-column", help="Count column of the at-risk CSV.")
    ] = None,
    total_events: Annotated[
        int | None, typer.Option("--total-events", help="Published total number of events.")
    ] = None,
    n_patients: Annotated[
        int | None, typer.Option("--n-patients", help="Patients at time 0 (without at-risk).")
    ] = None,
    percent: Annotated[
        bool | None,
        typer.Option("--percent/--probability", help="Survival column scale (default: detect)."),
    ] = None,
    arm: Annotated[
        str | None,
        typer.Option("--arm", help="Arm label: writes time,event,arm and adds this arm's rows "
                                   "to an --out file of other arms (a spec's evidence.ipd)."),
    ] = None,
) -> None:
    """Reconstruct individual patient data from a digitised Kaplan-Meier curve (Guyot 2012).

    With ``--arm``, run it once per arm with the same ``--out``: the file collects the arms
    (columns ``time,event,arm``), ready for a survival spec's ``[evidence] ipd``.
    """
    from prrt_bayes.reconstruct.guyot import reconstruct_from_files

    result = reconstruct_from_files(
        curve, at_risk, at_risk_column=at_risk_column, total_events=total_events,
        n_patients=n_patients, percent=percent,
    )
    rows = result.ipd[["time", "event"]]
    if arm is not None:
        rows = _with_arm(rows, arm, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    rows.to_csv(temporary, index=False)
    temporary.replace(out)
    for note in result.cleaning_notes:
        console.print(f"cleaning: {note}", markup=False)
    console.print(result.accuracy.to_text(), markup=False)
    console.print(f"wrote {len(result.ipd)} patients to {out}", markup=False)


def _with_arm(rows, arm: str, out: Path):
    """``rows`` labelled ``arm``, after the rows of other arms already in ``out`` (if any)."""
    import pandas as pd

    if not arm.strip() or "," in arm:
        raise InputError(f"arm label {arm!r} must be non-empty without commas", field="arm")
    labelled = rows.assign(arm=arm)
    if not out.exists():
        return labelled
    earlier = pd.read_csv(out, dtype={"arm": str})
    if list(earlier.columns) != ["time", "event", "arm"]:
        raise InputError("has no time,event,arm header (written without --arm?): choose "
                         "another --out", file=out, row=1)
    if arm in set(earlier["arm"]):
        raise InputError(f"already holds arm {arm!r}: choose another label or --out",
                         file=out, field="arm")
    return pd.concat([earlier, labelled], ignore_index=True)


@app.command("map-prior")
@bad_input_exits_2
def map_prior_command(
    events: Annotated[str | None, typer.Option("--events", help="Responders per study: R1,R2,...")]
    = None,
    totals: Annotated[str | None, typer.Option("--totals", help="Patients per study: N1,N2,...")]
    = None,
    estimates: Annotated[
        str | None, typer.Option("--estimates", help="Study estimates (e.g. log medians).")
    ] = None,
    std_errors: Annotated[
        str | None, typer.Option("--std-errors", help="Standard errors of the estimates.")
    ] = None,
    robust_weight: Annotated[
        float | None, typer.Option("--robust-weight", help="Weight of the vague component.")
    ] = None,
    tau_prior: Annotated[
        str, typer.Option("--tau-prior", help="Heterogeneity prior, e.g. halfnormal:1.")
    ] = "halfnormal:1",
    mu_prior: Annotated[
        str | None, typer.Option("--mu-prior", help="Prior of the mean, e.g. normal:0,2.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 20170112,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Meta-analytic-predictive (MAP) prior from external studies, with its ESS."""
    from prrt_bayes.borrowing.map_prior import map_prior_summary
    from prrt_bayes.core.priors import parse_float_list

    def numbers(text: str | None, flag: str):
        return None if text is None else parse_float_list(text, field=flag)

    summary = map_prior_summary(
        events=numbers(events, "--events"), totals=numbers(totals, "--totals"),
        estimates=numbers(estimates, "--estimates"),
        std_errors=numbers(std_errors, "--std-errors"), robust_weight=robust_weight,
        tau_prior=tau_prior, mu_prior=mu_prior, seed=seed,
    )
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=float) + "\n")
        return
    scale = "predictive response probability" if events is not None else "predictive estimate"
    console.print(f"MAP prior ({scale} of a new study, {summary['n_studies']} studies)",
                  markup=False)
    console.print(f"mean {summary['mean']:.4g}, sd {summary['sd']:.4g}, 95% interval "
                  f"{summary['lower']:.4g} to {summary['upper']:.4g}", markup=False)
    console.print(f"ESS: {summary['ess_elir']:.1f} (ELIR), {summary['ess_moment']:.1f} (moment)",
                  markup=False)
    table = Table(title="Mixture components")
    labels = ("weight", "a", "b") if events is not None else ("weight", "mean", "sd")
    for label in labels:
        table.add_column(label)
    for component in summary["components"]:
        table.add_row(*[f"{v:.4g}" for v in component])
    console.print(table)


class BorrowingChoice(StrEnum):
    """``--borrowing`` values (see :data:`prrt_bayes.core.spec.BORROWING_METHODS`)."""

    NONE = "none"
    MAP = "map"
    ROBUST_MAP = "robust-map"
    POWER = "power"
    COMMENSURATE = "commensurate"
    COMMENSURATE_FIXED = "commensurate-fixed"


class BackendChoice(StrEnum):
    """``--backend`` values (see :data:`prrt_bayes.core.sampling.BACKENDS`)."""

    AUTO = "auto"
    NUTPIE_C = "nutpie-c"
    NUTPIE_NUMBA = "nutpie-numba"
    NUTPIE_JAX = "nutpie-jax"
    PYMC = "pymc"


QUICK = {"psa_draws": 200, "scenarios": False}
"""``--quick`` settings: 200 PSA draws (the workbook dominates the run time) and no
extrapolation scenarios (the tail drivers are still stated); the sampler keeps each spec's
draws, which the bundled models need to pass the convergence gate."""


def _print_assumptions(results) -> None:
    for result in results:
        priors = "; ".join(f"{name} ~ {text}" for name, text in sorted(result.priors.items()))
        line = f"{result.name} priors: {priors or 'none recorded'}"
        if result.borrowing is not None:
            line += f" | borrowing: {result.borrowing.method}"
            if math.isfinite(result.borrowing.conflict_p_box):
                line += f", prior-data conflict p = {result.borrowing.conflict_p_box:.3g}"
        members = result.reconstruction_members
        if members is not None:
            line += (f" | data: NETTER-1 pseudo-IPD reconstructed from published summaries, "
                     f"{len(members)} reconstruction member(s) pooled (report: 'What the "
                     "reconstruction assumes')")
        console.print(line, markup=False, highlight=False)
        if result.extrapolation is not None:
            _print_tail(result)


def _print_tail(result) -> None:
    """What drives a survival analysis's tail, and its restricted means within follow-up
    beside its lifetime means."""
    from prrt_bayes.survival.quantities import rmst

    extrapolation = result.extrapolation
    for text in extrapolation.drivers:
        console.print(f"  {result.name} tail: {text}", markup=False, highlight=False)
    follow_up = extrapolation.follow_up
    means = result.summary[result.summary["quantity"] == Quantity.MEAN_SURVIVAL]
    parts = []
    for arm, survival in result.survival.items():
        within = float(rmst(survival, follow_up).median())
        lifetime = means.loc[means["group"] == arm, "median"]
        horizon = float(survival["time"].max())
        parts.append(f"{arm} {within:.1f} within follow-up (observed, to {follow_up:.1f} "
                     f"months) vs {float(lifetime.iloc[0]):.1f} to {horizon:g} months "
                     "(extrapolated)" if len(lifetime) else f"{arm} {within:.1f}")
    console.print(f"  {result.name} mean survival (months, posterior median): "
                  + "; ".join(parts), markup=False, highlight=False)
    if not extrapolation.scenarios.empty:
        console.print(f"  {result.name}: every extrapolation scenario in "
                      "extrapolation_scenarios.csv (report: 'What drives the extrapolation')",
                      markup=False, highlight=False)


def _number(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "not reached"


def _print_summary(summary, diagnostics, out: Path) -> None:
    from prrt_bayes.core.summary import headline_rows

    rows = headline_rows(summary)
    table = Table(title=f"Headline estimates: posterior median and 95% credible interval "
                        f"({len(rows)} of {len(summary)} rows; all in {out}/summary.csv)")
    for column in ("analysis", "endpoint", "quantity", "group", "median", "95% CrI"):
        table.add_column(column, overflow="fold")
    for row in rows.itertuples(index=False):
        if row.quantity in POSTERIOR_PROBABILITIES:
            table.add_row(row.analysis, row.endpoint, row.quantity, row.group,
                          f"probability {row.mean:.3f}", "")
            continue
        table.add_row(row.analysis, row.endpoint, row.quantity, row.group, _number(row.median),
                      f"{_number(row.lower)} to {_number(row.upper)}")
    console.print(table)
    verdict = Table(title="Convergence diagnostics")
    for column in ("analysis", "max R-hat", "min ESS bulk", "min ESS tail", "divergences",
                   "min BFMI", "max MCSE/SD", "verdict"):
        verdict.add_column(column)
    for row in diagnostics.itertuples(index=False):
        ok = bool(row.passed)
        verdict.add_row(row.analysis, f"{row.max_rhat:.3f}", f"{row.min_ess_bulk:.0f}",
                        f"{row.min_ess_tail:.0f}", f"{row.divergences:.0f}",
                        f"{row.min_bfmi:.2f}", f"{row.max_mcse_ratio:.3f}",
                        "[green]converged[/]" if ok else f"[red]FAILED[/] {row.problems}")
    console.print(verdict)


MOVED_BY_BORROWING = (
    (Quantity.RESPONSE_RATE, Quantity.RESPONSE_RATE_WITHOUT_BORROWING, "response rate"),
    (Quantity.MEDIAN_SURVIVAL, Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING, "median (months)"),
    (Quantity.HAZARD_RATIO, Quantity.HAZARD_RATIO_WITHOUT_BORROWING, "hazard ratio"),
)
"""(with borrowing, the trial alone, label): the pairs the closing lines compare."""


def _moved(summary, quantity: str, alone: str) -> tuple[float, float] | None:
    """Posterior medians of a quantity with and without borrowing (177Lu-Dotatate arm or the
    contrast), or ``None`` when the summary has no such pair."""
    with_rows = summary[summary["quantity"] == quantity]
    alone_rows = summary[summary["quantity"] == alone]
    if alone_rows.empty:
        return None
    group = alone_rows["group"].iloc[0]
    match = with_rows[with_rows["group"] == group]
    if match.empty:
        return None
    return float(match["median"].iloc[0]), float(alone_rows["median"].iloc[0])


def _print_borrowing(results) -> None:
    """Per analysis: what was borrowed from whom, how strongly, and how far it moved the answer."""
    for result in results:
        if result.borrowing is not None:
            report = result.borrowing
            parts = [f"{result.name} borrowing ({report.method}) from "
                     f"{'; '.join(report.sources) or 'the single-arm series'}"]
            if report.prior_ess:
                parts.append(f"prior worth {report.prior_ess}")
            for quantity, alone, label in MOVED_BY_BORROWING:
                pair = _moved(result.summary, quantity, alone)
                if pair is not None:
                    parts.append(f"177Lu-Dotatate {label} {_number(pair[0])} with vs "
                                 f"{_number(pair[1])} without borrowing")
            if math.isfinite(report.conflict_p_box):
                parts.append(f"prior-data conflict p = {report.conflict_p_box:.3g}")
            console.print(" | ".join(parts), markup=False, highlight=False)
        else:
            pair = _moved(result.summary, Quantity.MEDIAN_SURVIVAL,
                          Quantity.MEDIAN_SURVIVAL_WITHOUT_BORROWING)
            if pair is not None:
                console.print(
                    f"{result.name} borrowing: the external evidence enters as survivor counts "
                    f"(see the tail lines); 177Lu-Dotatate median (months) {_number(pair[0])} "
                    f"with vs {_number(pair[1])} without it", markup=False, highlight=False)


@app.command("run")
@bad_input_exits_2
def run_command(
    analyses: Annotated[
        list[str] | None,
        typer.Argument(help="Bundled analysis names or spec paths (default: all bundled)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Results folder.")] = Path("results"),
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing --out folder (its contents are deleted).")] = False,
    draws: Annotated[int | None, typer.Option("--draws", help="Posterior draws per chain.")] = None,
    tune: Annotated[int | None, typer.Option("--tune", help="Tuning steps per chain.")] = None,
    chains: Annotated[int | None, typer.Option("--chains", help="Number of chains.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    borrowing: Annotated[
        BorrowingChoice | None,
        typer.Option("--borrowing", help="Override for the analyses that borrow (survival, "
                     "response)."),
    ] = None,
    backend: Annotated[
        BackendChoice | None,
        typer.Option("--backend", help="NUTS backend for every fit (default: the specs' "
                     "[sampler] backend, 'auto' = each model's measured fastest)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="200 PSA draws instead of the specs' 1,000, and no "
                           "extrapolation scenarios.")
    ] = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Worker processes (default: one per 4 cores).")
    ] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="List the bundled analyses with one-line descriptions and exit.")] = False,
    allow_unconverged: Annotated[bool, typer.Option(
        "--allow-unconverged", help="Also export the PSA draws of analyses that failed their "
        "convergence checks (every PSA file then says so first); the exit code stays 1.")] = False,
) -> None:
    """Fit the analyses, print the posterior summary and write the results folder."""
    from prrt_bayes.pipeline.bundled import bundled_names, describe_bundled

    if list_:
        table = Table(title="Bundled analyses (prrt-bayes run NAME; "
                            "prrt-bayes init NEW --from NAME)")
        for column in ("name", "kind", "description"):
            table.add_column(column, overflow="fold")
        for row in describe_bundled():
            table.add_row(*row)
        console.print(table)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from prrt_bayes.pipeline.runner import run
    from prrt_bayes.pipeline.specs import resolve_spec

    for flag, value in (("--draws", draws), ("--tune", tune), ("--chains", chains),
                        ("--jobs", jobs)):
        if value is not None and value <= 0:
            raise InputError(f"{flag} must be a positive integer, got {value}")
    overrides = {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                 "borrowing": None if borrowing is None else str(borrowing),
                 "backend": None if backend is None else str(backend)}
    if quick:
        for key, value in QUICK.items():
            if overrides.get(key) is None:
                overrides[key] = value
    specs = [resolve_spec(name) for name in (analyses or bundled_names())]
    if borrowing is not None:
        ignored = [spec.name for spec in specs if not spec.accepts_borrowing()
                   and spec.kind == "survival"]
        if ignored:
            console.print(f"note: --borrowing does not apply to {', '.join(ignored)} (family "
                          "'auto' uses the single-arm series as survivor counts)",
                          markup=False, highlight=False)
    specs = [spec.with_overrides(**overrides) for spec in specs]
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("fitting", total=len(specs))
        outcome = run(
            specs, out, force=force, jobs=jobs, allow_unconverged=allow_unconverged,
            on_start=lambda name: progress.update(task, description=f"fitting {name}"),
            on_done=lambda name: progress.advance(task),
        )
    _print_summary(outcome.summary, outcome.diagnostics, out)
    _print_assumptions(outcome.results)
    _print_borrowing(outcome.results)
    console.print(f"results written to {out}/", markup=False)
    if not outcome.all_passed:
        failed = outcome.diagnostics.loc[~outcome.diagnostics.passed.astype(bool), "analysis"]
        Console(stderr=True).print(
            f"error: not converged or failed: {', '.join(failed)} (see {out}/diagnostics.csv)",
            markup=False)
        raise typer.Exit(code=1)


@app.command("init")
@bad_input_exits_2
def init_command(
    name: Annotated[str, typer.Argument(help="Name of the new analysis (and of NAME.toml).")],
    source: Annotated[str, typer.Option(
        "--from", help="Bundled analysis to copy (see prrt-bayes run --list).")] = "pfs_primary",
    folder: Annotated[Path, typer.Option("--dir", help="Folder to write NAME.toml in.")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing NAME.toml.")] = False,
) -> None:
    """Copy a bundled analysis spec into NAME.toml to edit, then run it with prrt-bayes run."""
    from prrt_bayes.pipeline.bundled import copy_bundled

    target = copy_bundled(source, name, folder, force=force)
    console.print(f"wrote {target} (from {source}); edit it, then: prrt-bayes run {target}",
                  markup=False, highlight=False)


@app.command("sweep")
@bad_input_exits_2
def sweep_command(
    analysis: Annotated[str, typer.Argument(help="Bundled analysis name or spec path.")],
    grid: Annotated[
        list[str],
        typer.Option("--grid", help="KEY=V1,V2,... with a dotted spec key, e.g. "
                                    "borrowing.robust_weight=0,0.2,0.5 (repeatable)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for summary.csv and sweep.png.")],
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask distributed scheduler address.")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Local workers (default: one per 4 cores).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force",
                           help="Replace an existing --out folder (its contents are deleted).")
    ] = False,
) -> None:
    """Fit one analysis under every combination of grid values (scenario sweep)."""
    from prrt_bayes.pipeline.specs import resolve_spec
    from prrt_bayes.pipeline.sweep import parse_grid, sweep

    spec = resolve_spec(analysis)
    table = sweep(spec, parse_grid(grid, spec), out, scheduler=scheduler, jobs=jobs, force=force)
    failed = table.loc[table.status != "ok", "combination"].unique()
    console.print(f"{table.combination.nunique()} combinations, {len(failed)} failed; "
                  f"wrote {out}/summary.csv and {out}/sweep.png", markup=False)
    if len(failed):
        raise typer.Exit(code=1)


@app.command("summarize")
@bad_input_exits_2
def summarize_command(
    posterior: Annotated[Path, typer.Argument(help="A posterior.nc written by prrt-bayes run.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Re-summarise a saved posterior (same numbers as the run's summary.csv)."""
    from prrt_bayes.core.posterior import load_posterior, summary_from_tree

    summary = summary_from_tree(load_posterior(posterior))
    if as_json:
        sys.stdout.write(summary.to_json(orient="records", double_precision=10, indent=2) + "\n")
        return
    table = Table(title=f"Posterior summary: {posterior}")
    for column in summary.columns:
        table.add_column(column)
    for row in summary.itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
