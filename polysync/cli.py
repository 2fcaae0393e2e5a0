"""The command line: parse, call the library, print. Errors become one line and an exit code."""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import EXIT_REFUSED, EXIT_USAGE, PolysyncError, UsageError
from .fsutil import json_text


def fail_cleanly(fn):
    """Run a command body; turn PolysyncError (and surprises) into one stderr line + exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PolysyncError as exc:
            click.echo(f"polysync: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("polysync: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException):
            raise  # click prints a bad option value itself, with exit code 2
        except Exception as exc:  # a bug: still one line, with a way to see more
            if os.environ.get("POLYSYNC_DEBUG"):
                raise
            click.echo(f"polysync: internal error: {type(exc).__name__}: {exc} "
                       "(set POLYSYNC_DEBUG=1 for details)", err=True)
            sys.exit(70)

    return wrapper


class Progress:
    """Decode progress on stderr: a live line on a terminal, a few lines otherwise."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.state: dict[str, float] = {}
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, path: str, frac: float) -> None:
        if self.quiet:
            return
        prev = self.state.get(path, -1.0)
        self.state[path] = frac
        now = time.monotonic()
        if self.tty:
            if now - self.last > 0.2 or frac >= 1.0:
                self.last = now
                parts = "  ".join(f"{Path(p).name} {f:4.0%}" for p, f in self.state.items())
                click.echo(f"\rdecoding  {parts}", err=True, nl=False)
        elif now - self.started > 5.0 and int(frac * 4) > int(max(prev, 0) * 4):
            click.echo(f"decoding {Path(path).name}: {frac:.0%}", err=True)

    def done(self) -> None:
        if self.tty and self.state and not self.quiet:
            click.echo("\r" + " " * 79 + "\r", err=True, nl=False)


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned text columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, *rows])


class _Commands(click.Group):
    """The commands; those in their own modules are imported only when they run (or ``--help``
    lists them), so a command does not wait for every other one's imports. numpy is not
    imported before a command is chosen: BLAS is kept to one thread first, so that the decode
    workers can be forks of this process (:mod:`polysync.workers`)."""

    ELSEWHERE = {"export": ("export", "export"), "edit": ("edit", "edit"),
                 "demo": ("demo", "demo"), "report": ("report", "report"),
                 "render-cuts": ("render", "render_cuts"), "render-pip": ("render", "render_pip")}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.ELSEWHERE})

    def get_command(self, ctx, name):
        from .workers import single_threaded_blas

        single_threaded_blas()
        if name in self.ELSEWHERE:
            import importlib

            module, attr = self.ELSEWHERE[name]
            return getattr(importlib.import_module(f"{__package__}.{module}"), attr)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="polysync")
def main():
    """polysync: align multicam recordings by their sound, cut them, hand them to your editor.

    Exit codes: 0 ok, 1 refused (unrelated/unsure, verify FAIL), 2 usage, 3 bad input media,
    4 cannot write output, 5 corrupt or stale sidecar/timeline, 6 external tool failed.
    """


@main.command()
@click.argument("reference", required=False, type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--all", "group", is_flag=True,
              help="Place every file and folder given (no positional reference): all angles "
                   "and clips of a shoot, plus polysync-session.json.")
@click.option("--angle", "angles", multiple=True, metavar="NAME=GLOB",
              help="With --all: the files of one camera, e.g. A='A0*.MP4' (repeatable).")
@click.option("--reference", "ref_choice", metavar="NAME|FILE",
              help="With --all: the reference angle or file (default: the longest, "
                   "best-connected angle).")
@click.option("--partial", is_flag=True,
              help="Accepted for compatibility: partial coverage is always detected.")
@click.option("--sidecar-dir", type=click.Path(path_type=Path),
              help="Write sidecars here instead of beside the media (read-only media folders).")
@click.option("--jobs", "-j", type=int, default=None, help="Files decoded at once (default: cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@fail_cleanly
def sync(reference, sources, group, angles, ref_choice, partial, sidecar_dir, jobs, as_json,
         quiet):
    """Align SOURCES to REFERENCE by sound; write <source>.sync.json sidecars.

    The reference comes first and defines the timeline. A source that cannot be aligned with
    confidence (unrelated, too little overlap) gets no sidecar, and the exit code is 1.

    With --all, the arguments are files and/or folders: every clip of every angle is placed
    against one reference file (chained through overlaps), and files that cannot be placed are
    reported (exit 1) and get no sidecar.
    """
    from .sync import sync_files

    if group or angles or ref_choice:
        if not group:
            raise UsageError("--angle and --reference go with --all")
        paths = [p for p in (reference, *sources) if p is not None]
        return _sync_all(paths, angles, ref_choice, sidecar_dir, jobs, as_json, quiet)
    if reference is None or not sources:
        raise UsageError("give a REFERENCE and at least one SOURCE (or --all FILES/FOLDERS)")

    progress = Progress(quiet or as_json)
    report = sync_files(reference, list(sources), sidecar_dir=sidecar_dir, partial=partial,
                        jobs=jobs, progress=progress)
    progress.done()
    if as_json:
        click.echo(json_text(_sync_json(report), indent=2))
    else:
        rows = []
        for o in report.outcomes:
            if o.ok:
                r, pa = o.result, o.alignment
                rows.append([o.path.name, f"{r.delta_seconds:+.6f} s", f"{r.drift_ppm:+.2f} ppm",
                             f"{r.confidence:.4f}", pa.src_candidate.label(),
                             f"{r.n_agree}/{r.n_windows}",
                             r.method + (f" via {r.via}" if r.via else ""), str(o.sidecar)])
            else:
                rows.append([o.path.name, "-", "-", "-", "-", "-", "-", "REFUSED"])
        click.echo(f"reference: {report.reference}  (audio "
                   f"{report.reference_analysis.candidates[0].label()})")
        click.echo(table(rows, ["source", "offset", "drift", "confidence", "audio", "windows",
                                "method", "sidecar"]))
        if any(o.ok and o.result.method == "envelope" for o in report.outcomes):
            click.echo("note: 'envelope' offsets come from the sound's loudness contour only "
                       "(about +-10 ms): those mics hear the room too differently for "
                       "sample accuracy.", err=True)
    for o in report.outcomes:
        if not o.ok:
            click.echo(f"polysync: error: {o.error}", err=True)
            _withdrawn(o.withdrawn)
    if not report.ok:
        sys.exit(max(o.error.exit_code for o in report.outcomes if not o.ok))


def _sync_all(paths, angles, ref_choice, sidecar_dir, jobs, as_json, quiet):
    """``sync --all``: the group sync of polysync.group, printed."""
    from .group import parse_angle_option, report_json, summary_rows, sync_group

    if not paths:
        raise UsageError("give the files and/or folders of the shoot")
    progress = Progress(quiet or as_json)
    report = sync_group(paths, angles=[parse_angle_option(a) for a in angles],
                        reference=ref_choice, sidecar_dir=sidecar_dir, jobs=jobs,
                        progress=progress)
    progress.done()
    if as_json:
        click.echo(json_text(report_json(report), indent=2))
    else:
        ref = next(c for c in report.clips if c.is_reference)
        click.echo(f"reference: {report.reference}  (angle {ref.angle})")
        click.echo(table(summary_rows(report), ["angle", "clip", "offset", "drift",
                                                "confidence", "placed"]))
        for s in report.angles:
            for j in s.joins:
                kind = "contiguous" if j["contiguous"] else f"gap {j['gap_seconds']:+.3f} s"
                click.echo(f"{s.name}: {j['after']} > {j['before']} {kind}")
        worst = max((r for _, r in report.cycle_residuals), default=0.0)
        click.echo(f"solve: {report.pairs_compared} pairs compared, {report.pairs_measured} "
                   f"measured, {len(report.edges)} links used, {len(report.dropped)} dropped; "
                   f"largest cycle residual {worst * 1000:.3f} ms")
        if report.session_path:
            click.echo(f"session: {report.session_path}")
    for c in report.unplaced:
        click.echo(f"polysync: error: {c.error}", err=True)
        _withdrawn(c.withdrawn)
    if not report.ok:
        sys.exit(max(c.error.exit_code for c in report.unplaced))


def _withdrawn(path) -> None:
    if path is not None:
        click.echo(f"polysync: removed {path}: an earlier run's placement that this run "
                   "does not confirm", err=True)


def _sync_json(report) -> dict:
    out = {"reference": str(report.reference),
           "reference_sidecar": str(report.reference_sidecar) if report.reference_sidecar else None,
           "sources": []}
    for o in report.outcomes:
        item = {"path": str(o.path), "ok": o.ok}
        if o.ok:
            r = o.result
            item.update(sidecar=str(o.sidecar) if o.sidecar else None,
                        delta_seconds=r.delta_seconds, drift_slope=r.drift_slope,
                        drift_ppm=r.drift_ppm, confidence=r.confidence,
                        audio_stream=o.alignment.src_candidate.audio_stream,
                        channel=o.alignment.src_candidate.channel,
                        windows=r.n_windows, agreeing=r.n_agree, method=r.method, via=r.via,
                        overlap_in_reference=list(r.overlap_in_reference))
        else:
            item.update(error=o.error.message, exit_code=o.error.exit_code,
                        withdrawn_sidecar=str(o.withdrawn) if o.withdrawn else None)
        out["sources"].append(item)
    return out


@main.command()
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("items", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sidecar-dir", type=click.Path(path_type=Path),
              help="Read sidecars from here instead of beside the media.")
@click.option("--apply-drift", is_flag=True, hidden=True,
              help="Accepted for compatibility: drift is always applied.")
@click.option("--step", type=float, default=None, hidden=True,
              help="Accepted for compatibility: windows are spread over the whole overlap.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@fail_cleanly
def verify(reference, items, sidecar_dir, apply_drift, step, as_json):
    """Check sources' sidecars against REFERENCE on audio sync did not use.

    ITEMS are source files, each optionally followed by its sidecar (a *.sync.json path).
    Exit 0 when every check passes, 1 when any fails.
    """
    from .verify import verify_files

    pairs: list[list] = []
    for item in items:
        if item.name.endswith(".sync.json"):
            if not pairs or pairs[-1][1] is not None:
                raise click.UsageError(f"{item}: a sidecar must follow the source it belongs to")
            pairs[-1][1] = item
        else:
            pairs.append([item, None])
    reports = [verify_files(reference, src, sc, sidecar_dir=sidecar_dir) for src, sc in pairs]
    if as_json:
        click.echo(json_text([{"source": str(r.source), "sidecar": str(r.sidecar_path),
                                "passed": r.passed, **{k: v for k, v in
                                r.as_verification().items() if k != "passed"}}
                               for r in reports], indent=2))
    else:
        rows = [[r.source.name, "PASS" if r.passed else "FAIL",
                 f"{r.median_residual_ms:+.3f} ms", f"{r.spread_ms:.3f} ms",
                 f"{r.correlation:.3f}", f"{r.agreeing}/{r.windows}", r.method,
                 f"+-{r.tolerance_ms:.1f} ms"] for r in reports]
        click.echo(table(rows, ["source", "result", "residual", "spread", "correlation",
                                "windows", "method", "allowed"]))
    if not all(r.passed for r in reports):
        sys.exit(EXIT_REFUSED)


def run():  # pragma: no cover - console entry for python -m
    main(prog_name="polysync")


__all__ = ["main", "fail_cleanly", "table", "Progress", "EXIT_USAGE"]

