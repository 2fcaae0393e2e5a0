"""``polysync demo DIR``: a synthetic 3-angle shoot, then every step of polysync on it.

The fixtures generator (``polysync_fixtures``) writes a small shoot with known offsets and
drift into ``DIR/media``; then, through the library (no subprocesses), each step runs and
prints what it did and the figure that matters:

1. shoot    the media and the generator's truth (offsets in s, drift in ppm)
2. sync     sidecars; each offset against the truth (ms), drift (ppm), confidence
3. verify   the independent check on audio sync did not use: PASS/FAIL, residual (ms)
4. edit     an auto-edit (``edl.json``): shots, screen time, the speaker on screen (truth)
5. export   the timeline as .otio, .fcpxml, .xml (Premiere/Resolve) and .edl (CMX 3600)
6. preview  the cut rendered to an MP4 (640x360)
7. report   the HTML page that shows why each sync is right

Outputs: ``DIR/media`` (the shoot, its ``truth.json`` and the sidecars), ``DIR/edl.json``,
``DIR/timeline.{otio,fcpxml,xml,edl}``, ``DIR/preview.mp4`` and ``DIR/report.html``.

A step whose module has not landed in this installation is skipped with a line that says so;
nothing is faked. The calls into the other modules are all in the "steps" section below.
"""

from __future__ import annotations

import importlib
import inspect
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import click

from .errors import PolysyncError, UsageError

DEMO_SCENARIOS = ("basic", "wide", "duo", "quad")
"""Fixture scenarios the demo offers: multicam conversations of 60 to 90 s (basic: 3 cameras;
wide: 3 close-ups + a wide; duo: 2 cameras; quad: 4 close-ups + a wide)."""

OUTPUTS = ("edl.json", "timeline.otio", "timeline.fcpxml", "timeline.xml", "timeline.edl",
           "preview.mp4", "report.html")
"""Files the demo writes into DIR (besides media/), removed before a new run."""

EXPORT_FORMATS = (".otio", ".fcpxml", ".xml", ".edl")


class Skipped(Exception):
    """A step cannot run because the module (or the API) it needs has not landed."""


@dataclass
class Step:
    """The outcome of one step: "ok", "skipped" or "failed"; ``outputs`` it wrote; seconds."""

    name: str
    status: str = "ok"
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""


@dataclass
class Demo:
    """Everything the demo did: its folder, the generator's truth, and every step."""

    folder: Path
    truth: dict
    media: list[Path]
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0

    def step(self, name: str) -> Optional[Step]:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)


# --------------------------------------------------------------------------- steps
# Every call into polysync's modules is here, so a changed API is adjusted in one place.


def _landed(module: str, *names: str):
    """``polysync.<module>`` and its attributes ``names``; :class:`Skipped` if absent."""
    try:
        mod = importlib.import_module(f"polysync.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"polysync.{module}":
            raise Skipped(f"polysync.{module} has not landed yet") from None
        raise
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise Skipped(f"polysync.{module} has no {', '.join(missing)} yet")
    return [getattr(mod, n) for n in names]


def _fits(fn, *args, **kwargs) -> None:
    """:class:`Skipped` unless ``fn`` accepts these arguments (an API that changed shape)."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise Skipped(f"{fn.__module__}.{fn.__name__} has another signature ({exc})") from None


def make_shoot(folder: Path, scenario: str, seed: int) -> tuple[dict, list[Path]]:
    """Generate ``scenario`` into ``folder``; return its truth and the related media, the
    reference first."""
    try:
        from polysync_fixtures import build_scenario
    except ImportError:
        raise Skipped("the fixtures generator (polysync_fixtures) is not installed") from None
    truth = build_scenario(scenario, folder, seed=seed)
    ref = truth["reference"]
    names = [ref] + [f["name"] for f in truth["files"] if f["related"] and f["name"] != ref]
    return truth, [folder / n for n in names]


def run_sync(media: list[Path], jobs: Optional[int]):
    from .sync import sync_files

    return sync_files(media[0], media[1:], jobs=jobs)


def run_verify(media: list[Path]) -> list:
    from .verify import verify_files

    return [verify_files(media[0], src) for src in media[1:]]


def run_edit(media: list[Path], out: Path, wide: Optional[str], jobs: Optional[int]):
    """The auto-edit written as ``out`` (edl.json); returns the EditDecisions."""
    (build_edit,) = _landed("edit", "build_edit")
    (write_edl,) = _landed("decisions", "write_edl_json")
    kwargs = {"wide": wide, "jobs": jobs}
    _fits(build_edit, media, **kwargs)
    dec = build_edit(media, **kwargs)
    write_edl(dec, out)
    return dec


def run_export(inputs: list[Path], out: Path) -> None:
    (export_timeline,) = _landed("export", "export_timeline")
    _fits(export_timeline, inputs, out)
    export_timeline(inputs, out)


def run_preview(edl: Optional[Path], out: Path) -> None:
    """Render the auto-edit ``edl`` (cuts, 640x360) to ``out``."""
    render, options = _landed("render", "render", "RenderOptions")
    if edl is None:
        raise Skipped("the preview renders the auto-edit, and there is none")
    opts = options(width=640, height=360)
    _fits(render, edl, out, opts)
    render(edl, out, opts)


def run_report(media: list[Path], out: Path, edl: Optional[Path]):
    from .report import make_report, require_matplotlib

    try:
        require_matplotlib()
    except UsageError as exc:
        raise Skipped(exc.message) from None
    return make_report(media, out, edl=edl)


# --------------------------------------------------------------------------- figures


def _truth_file(truth: dict, name: str) -> dict:
    return next(f for f in truth["files"] if f["name"] == name)


def acoustic_spread_ms(truth: dict, name: str) -> float:
    """Largest difference (ms) between talkers of the sound's travel time to the reference's
    mic and to this file's mic: how far a correct sync may sit from the clock truth."""
    ref = _truth_file(truth, truth["reference"])["propagation_ms"]
    src = _truth_file(truth, name)["propagation_ms"]
    diffs = [ref[p] - src[p] for p in src if p in ref]
    return (max(diffs) - min(diffs)) if diffs else 0.0


def speaker_on_screen(truth: dict, dec, media: list[Path]) -> Optional[float]:
    """Share of the time one person holds a turn (generator truth) that an angle framing
    them is on screen, over the edit's span. None without single-speaker time."""
    import numpy as np

    frames = {}
    for i, p in enumerate(dec.inputs):
        entry = next((f for f in truth["files"] if f["name"] == Path(p).name), None)
        frames[i] = set(entry["frames"]) if entry else set()
    t = np.arange(float(dec.start), float(dec.duration), 0.01)
    turns = [e for e in truth["speech"] if e["kind"] == "turn"]
    who = np.full(len(t), "", dtype=object)
    count = np.zeros(len(t), dtype=int)
    for e in turns:
        sel = (t >= e["start"]) & (t < e["end"])
        who[sel] = e["person"]
        count[sel] += 1
    starts = np.array([float(s.start) for s in dec.shots])
    cams = [s.cam for s in dec.shots]
    k = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(cams) - 1)
    single = count == 1
    if not single.any():
        return None
    hits = [who[j] in frames[cams[k[j]]] for j in np.flatnonzero(single)]
    return float(np.mean(hits))


# --------------------------------------------------------------------------- the run


def _prepare(folder: Path) -> Path:
    """Check ``folder`` is new, empty or a previous demo; clear the demo's own outputs."""
    media = folder / "media"
    if folder.exists():
        if not folder.is_dir():
            raise UsageError("not a folder", folder)
        if any(folder.iterdir()) and not (media / "truth.json").is_file():
            raise UsageError("the folder is not empty and holds no earlier demo: give a new "
                             "folder", folder)
        if media.is_dir():
            shutil.rmtree(media)
        for name in OUTPUTS:
            (folder / name).unlink(missing_ok=True)
    media.mkdir(parents=True, exist_ok=True)
    return media


def run_demo(folder: str | Path, scenario: str = "basic", seed: int = 0,
             jobs: Optional[int] = None, echo: Callable[[str], None] = print) -> Demo:
    """Make the synthetic shoot in ``folder`` and run every landed step on it, printing each.

    Raises :class:`UsageError` for a folder that holds other files. A failing step is recorded
    (status "failed") and the steps that do not need its output still run.
    """
    from .cli import table

    if scenario not in DEMO_SCENARIOS:
        raise UsageError(f"unknown demo scenario {scenario!r} (use {', '.join(DEMO_SCENARIOS)})")
    folder = Path(folder)
    started = time.perf_counter()
    media_dir = _prepare(folder)
    n_steps = 7

    def say(n: int, name: str, headline: str, details: str = "") -> None:
        echo(f"[{n}/{n_steps}] {name:<8} {headline}")
        for line in details.splitlines():
            echo(f"    {line}")

    # 1. shoot
    t = time.perf_counter()
    try:
        truth, media = make_shoot(media_dir, scenario, seed)
    except Skipped as exc:
        raise UsageError(f"cannot make the demo shoot: {exc}") from None
    demo = Demo(folder, truth, media)
    demo.steps.append(Step("shoot", outputs=list(media), seconds=time.perf_counter() - t))
    rows = []
    for p in media:
        f = _truth_file(truth, p.name)
        ref = p == media[0]
        rows.append([p.name, f"{f['duration']:.1f} s", ", ".join(f["frames"]) or "-",
                     "reference" if ref else f"{f['delta_seconds']:+.6f} s",
                     "" if ref else f"{f['drift_ppm']:+.2f} ppm"])
    say(1, "shoot", f"made a {len(media)}-angle synthetic shoot ({scenario}, seed {seed}, "
        f"{truth['scene_duration']:.0f} s of scene) in {media_dir}  "
        f"({demo.steps[0].seconds:.1f} s)",
        table(rows, ["file", "length", "frames", "truth offset", "truth drift"]))

    def sync(step: Step) -> tuple[str, str]:
        rep = run_sync(media, jobs)
        rows = []
        for o in rep.outcomes:
            f = _truth_file(truth, o.path.name)
            if not o.ok:
                rows.append([o.path.name, "REFUSED", "-", "-", "-", "-", "-"])
                continue
            r = o.result
            step.outputs.append(o.sidecar)
            rows.append([o.path.name, f"{r.delta_seconds:+.6f} s",
                         f"{(r.delta_seconds - f['delta_seconds']) * 1000.0:+.2f} ms",
                         f"{acoustic_spread_ms(truth, o.path.name):.1f} ms",
                         f"{r.drift_ppm:+.2f} ppm",
                         f"{(r.drift_slope - f['drift_slope']) * 1e6:+.2f} ppm",
                         f"{r.confidence:.4f}"])
        if not rep.ok:
            step.status = "failed"
            step.note = "; ".join(str(o.error) for o in rep.outcomes if not o.ok)
        return (f"aligned {sum(o.ok for o in rep.outcomes)} of {len(rep.outcomes)} angles to "
                f"{media[0].name}; sidecars <file>.sync.json beside the media",
                table(rows, ["angle", "offset", "vs truth", "talker spread", "drift",
                             "vs truth", "confidence"])
                + "\n(a correct offset sits within the talker spread of the clock truth: each "
                  "person is at\n another distance from the two mics, and sound takes ~3 ms "
                  "per metre)")

    def verify(step: Step) -> tuple[str, str]:
        reps = run_verify(media)
        step.outputs = [r.sidecar_path for r in reps]
        if not all(r.passed for r in reps):
            step.status = "failed"
            step.note = "did not pass: " + ", ".join(r.source.name for r in reps
                                                     if not r.passed)
        rows = [[r.source.name, "PASS" if r.passed else "FAIL", f"{r.median_residual_ms:+.3f} ms",
                 f"{r.agreeing}/{r.windows}", f"{r.confidence:.4f}"] for r in reps]
        return (f"{sum(r.passed for r in reps)} of {len(reps)} PASS on audio sync did not use",
                table(rows, ["angle", "result", "residual", "windows", "confidence"]))

    edl: list[Path] = []

    def edit(step: Step) -> tuple[str, str]:
        wide = next((f["name"] for f in truth["files"] if f.get("wide") and f["related"]), None)
        out = folder / "edl.json"
        dec = run_edit(media, out, str(media_dir / wide) if wide else None, jobs)
        edl.append(out)
        step.outputs = [out]
        span = float(dec.duration - dec.start) or 1.0
        share: dict[int, float] = {}
        for s in dec.shots:
            share[s.cam] = share.get(s.cam, 0.0) + float(s.duration)
        lines = ["screen time: " + ", ".join(f"{Path(dec.inputs[c]).name} {v / span:.0%}"
                                             for c, v in sorted(share.items()))]
        on = speaker_on_screen(truth, dec, media)
        if on is not None:
            lines.append(f"the person speaking is on screen {on:.0%} of the single-speaker "
                         "time (generator truth)")
        return f"{len(dec.shots)} shots over {span:.1f} s -> {out}", "\n".join(lines)

    def export(step: Step) -> tuple[str, str]:
        inputs = edl or media
        labels = {".otio": "OpenTimelineIO", ".fcpxml": "Final Cut Pro",
                  ".xml": "Premiere Pro / DaVinci Resolve", ".edl": "CMX 3600 EDL"}
        for suffix in EXPORT_FORMATS:
            out = folder / f"timeline{suffix}"
            run_export(inputs, out)
            step.outputs.append(out)
        what = "the auto-edit" if edl else "the synced angles (no edit)"
        return (f"{what} for editors",
                table([[str(p), labels[p.suffix], f"{p.stat().st_size} bytes"]
                       for p in step.outputs], ["file", "for", "size"]))

    def preview(step: Step) -> tuple[str, str]:
        out = folder / "preview.mp4"
        run_preview(edl[0] if edl else None, out)
        step.outputs = [out]
        return f"rendered {out} ({out.stat().st_size / 1e6:.1f} MB)", ""

    def report(step: Step) -> tuple[str, str]:
        out = folder / "report.html"
        shoot = run_report(media, out, edl[0] if edl else None)
        step.outputs = [out]
        return (f"{out} ({out.stat().st_size / 1e6:.1f} MB): open it in a browser",
                "\n".join(f"{st.name}: {st.verdict}" for st in shoot.angles[1:]))

    for n, name, body in ((2, "sync", sync), (3, "verify", verify), (4, "edit", edit),
                          (5, "export", export), (6, "preview", preview), (7, "report", report)):
        step = Step(name)
        demo.steps.append(step)
        if name != "sync" and not demo.step("sync").outputs:
            step.status, step.note = "skipped", "sync wrote no sidecar"
            say(n, name, f"skipped: {step.note}")
            continue
        t = time.perf_counter()
        headline, details = "", ""
        try:
            headline, details = body(step)
        except Skipped as exc:
            step.status, step.note = "skipped", str(exc)
        except PolysyncError as exc:
            step.status, step.note = "failed", str(exc)
        step.seconds = time.perf_counter() - t
        if step.status == "skipped":
            say(n, name, f"skipped: {step.note}")
            continue
        if headline:
            say(n, name, f"{headline}  ({step.seconds:.1f} s)", details)
        if step.status == "failed":
            say(n, name, f"FAILED: {step.note}")
    demo.seconds = time.perf_counter() - started
    skipped = [s.name for s in demo.steps if s.status == "skipped"]
    failed = [s.name for s in demo.steps if s.status == "failed"]
    echo(f"done in {demo.seconds:.1f} s"
         + (f"; skipped: {', '.join(skipped)}" if skipped else "")
         + (f"; FAILED: {', '.join(failed)}" if failed else "")
         + f". Everything is in {folder}")
    return demo


@click.command("demo")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--scenario", type=click.Choice(DEMO_SCENARIOS), default="basic", show_default=True,
              help="Which synthetic shoot to make (basic: 3 cameras, ~60 s).")
@click.option("--seed", type=int, default=0, show_default=True, help="Generator seed.")
@click.option("--jobs", "-j", type=int, default=None,
              help="Files decoded at once (default: cores).")
def demo(folder, scenario, seed, jobs):
    """Make a small synthetic shoot in FOLDER (3 cameras, 1 minute) and run sync, verify,
    edit, export, preview and the report on it, printing each step and where its output is.

    Takes about a minute. FOLDER must be new, empty, or an earlier demo's."""
    from .cli import fail_cleanly

    fail_cleanly(_demo)(folder, scenario, seed, jobs)


def _demo(folder, scenario, seed, jobs) -> None:
    import sys

    result = run_demo(folder, scenario=scenario, seed=seed, jobs=jobs, echo=click.echo)
    if not result.ok:
        sys.exit(1)


__all__ = ["run_demo", "Demo", "Step", "demo", "DEMO_SCENARIOS"]
