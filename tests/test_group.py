"""`polysync sync --all`: group sync of a whole shoot against the generator's truth.

The "group" set (polysync_fixtures.group_scenarios): camera A in one take split into
A001/A002/A003 (rec-run timecode), camera C in two takes (C0001, gap, C0002), a phone (IMG) and
a recorder (ZOOM) that overlaps only the phone, all on one mixer feed, plus street.m4a from
another conversation. A001 and C0001 share sound only with each other: they reach the rest
through A001 -> A002's timecode continuity.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polysync.align import SyncResult
from polysync.cli import main
from polysync.errors import EXIT_REFUSED, EXIT_USAGE, UsageError
from polysync.group import (SESSION_NAME, Edge, assign_angles, load_session, prune_inconsistent,
                            scan_media, solve_placement, sync_group, timecode_seconds)
from polysync.media import MediaInfo, StreamInfo
from polysync.session import load_angles
from polysync.sidecar import Sidecar, load_sidecar, save_sidecar, sidecar_path
from polysync_fixtures import load_truth
from polysync_fixtures.group_scenarios import cached_group_scenario

UNRELATED = "street.m4a"


@pytest.fixture(scope="module")
def shoot():
    folder = cached_group_scenario("group")
    return folder, load_truth(folder)


@pytest.fixture(scope="module")
def synced(shoot, tmp_path_factory):
    """One group sync of the whole folder, sidecars in a folder of their own."""
    folder, truth = shoot
    out = tmp_path_factory.mktemp("sidecars")
    return sync_group([folder], sidecar_dir=out), out


def expected(truth: dict, name: str, ref: str) -> tuple[float, float]:
    """Truth of ``name`` composed to reference ``ref``: (delta seconds, drift slope)."""
    f = {x["name"]: x for x in truth["files"]}
    t, r = f[name], f[ref]
    return ((t["delta_seconds"] - r["delta_seconds"]) / (1 + r["drift_slope"]),
            (1 + t["drift_slope"]) / (1 + r["drift_slope"]) - 1)


def related(truth):
    return [f["name"] for f in truth["files"] if f["related"]]


def check_placements(truth, placements: dict, ref: str, tol_s: float = 0.001):
    """``placements``: name -> (delta, slope) on ``ref``'s timeline."""
    assert sorted(placements) == sorted(related(truth))
    for name, (delta, slope) in placements.items():
        d, s = expected(truth, name, ref)
        assert abs(delta - d) <= tol_s, (name, (delta - d) * 1e3)
        assert abs(slope - s) <= 5e-6, (name, (slope - s) * 1e6)


def test_every_clip_placed_within_a_millisecond(shoot, synced):
    folder, truth = shoot
    report, out = synced
    ref = report.reference.name
    check_placements(truth, {c.path.name: (c.delta_seconds, c.drift_slope)
                             for c in report.clips if c.ok}, ref)
    for c in report.clips:
        if c.ok:
            sc = load_sidecar(sidecar_path(c.path, out))
            assert sc.reference == ref and sc.delta_seconds == pytest.approx(c.delta_seconds)
            assert sc.confidence >= 0.999
    assert load_sidecar(sidecar_path(folder / ref, out)).is_reference
    # the recorder only ever overlaps the phone: placed through it
    zoom = next(c for c in report.clips if c.path.name == "ZOOM0001.WAV")
    assert zoom.placed_via[-1] == "IMG_0412.MOV"
    assert not report.dropped and report.max_residual < 0.0005


def test_unrelated_file_is_reported_and_gets_no_sidecar(synced):
    report, out = synced
    assert not report.ok
    assert [c.path.name for c in report.unplaced] == [UNRELATED]
    assert "no common sound" in str(report.unplaced[0].error)
    assert not sidecar_path(report.unplaced[0].path, out).exists()


def test_rerun_removes_an_earlier_placement_it_refuses(shoot, synced, tmp_path):
    folder, _ = shoot
    report, _ = synced
    ref = report.reference.name
    earlier = Sidecar(source=UNRELATED, reference=ref, delta_seconds=2.0, drift_slope=0.0,
                      overlap_in_reference=(2.0, 30.0), overlap_in_source=(0.0, 28.0))
    save_sidecar(earlier, sidecar_path(UNRELATED, tmp_path))
    again = sync_group([folder], sidecar_dir=tmp_path)
    (unplaced,) = again.unplaced
    assert unplaced.path.name == UNRELATED
    assert unplaced.withdrawn == sidecar_path(UNRELATED, tmp_path)
    assert not unplaced.withdrawn.exists()


def test_angles_splits_and_takes(shoot, synced):
    folder, truth = shoot
    report, _ = synced
    angles = {s.name: s for s in report.angles}
    assert [c.path.name for c in angles["A"].clips] == ["A001.MP4", "A002.MP4", "A003.MP4"]
    assert [c.path.name for c in angles["C"].clips] == ["C0001.MP4", "C0002.MP4"]
    assert report.angles[0].name == "A"  # the reference angle: longest, best connected
    # one camera, one clock: a single slope per angle
    assert angles["A"].shared_drift and angles["C"].shared_drift
    assert angles["A"].drift_slope == 0.0
    assert len({c.drift_slope for c in angles["C"].clips}) == 1
    # the split is contiguous, the stop/start gap is kept as a gap
    assert all(j["contiguous"] and j["timecode_agrees"] for j in angles["A"].joins)
    f = {x["name"]: x for x in truth["files"]}
    true_gap = f["C0002.MP4"]["delta_seconds"] - f["C0001.MP4"]["end_seconds"]
    (join,) = angles["C"].joins  # clip ends are the container's (video: 2.6 ms past the audio)
    assert not join["contiguous"] and join["gap_seconds"] == pytest.approx(true_gap, abs=0.005)


def test_session_file_round_trip(shoot, synced):
    folder, truth = shoot
    report, out = synced
    session = out / SESSION_NAME
    assert report.session_path == session
    data = json.loads(session.read_text())
    assert data["reference"]["path"].endswith(report.reference.name)
    assert [u["path"].rsplit("/", 1)[-1] for u in data["unplaced"]] == [UNRELATED]
    assert data["solve"]["pairs_used"] and data["solve"]["max_residual_ms"] < 0.5
    angles = load_session(session)
    by_name = {c.path.name: c for c in report.clips if c.ok}
    assert sorted(a.path.name for a in angles) == sorted(by_name)
    for a in angles:
        assert a.path.resolve() == by_name[a.path.name].path.resolve()
        assert a.angle == by_name[a.path.name].angle
        assert a.start == pytest.approx(by_name[a.path.name].delta_seconds, abs=1e-9)
    assert {a.angle for a in angles} == {"A", "C", "IMG", "ZOOM"}
    # export / edit accept the session file in place of the list of files
    hooked = load_angles([session])
    assert [(a.path, a.angle, a.start) for a in hooked] == [(a.path, a.angle, a.start)
                                                           for a in angles]


def run(args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    return res


def test_cli_folder_scan_writes_beside_the_media(shoot, tmp_path):
    folder, truth = shoot
    shoot_dir = tmp_path / "SHOOT"
    shutil.copytree(folder, shoot_dir)
    (shoot_dir / "truth.json").unlink()
    (shoot_dir / ".hidden").mkdir()
    shutil.copy(shoot_dir / UNRELATED, shoot_dir / ".hidden" / "copy.m4a")
    (shoot_dir / "notes.txt").write_text("not media")
    res = run(["sync", "--all", "-q", shoot_dir])
    assert res.exit_code == EXIT_REFUSED
    errors = [ln for ln in res.output.splitlines() if ln.startswith("polysync: error")]
    assert len(errors) == 1 and UNRELATED in errors[0]
    for name in related(truth):
        assert (shoot_dir / (name + ".sync.json")).exists(), name
    assert not (shoot_dir / (UNRELATED + ".sync.json")).exists()
    assert not (shoot_dir / ".hidden" / "copy.m4a.sync.json").exists()
    session = json.loads((shoot_dir / SESSION_NAME).read_text())
    assert session["clips"][0]["path"] in ("A001.MP4", "A002.MP4", "A003.MP4")
    assert "contiguous" in res.output and "NOT PLACED" in res.output


def test_cli_angle_globs_and_reference_angle(shoot, tmp_path):
    folder, truth = shoot
    files = [folder / n for n in related(truth) + [UNRELATED]]
    res = run(["sync", "--all", "--json", "--sidecar-dir", tmp_path,
               "--angle", "CAM_A=A00*.MP4", "--angle", "cam_c=C*.mp4", "--angle", "REC=ZOOM*",
               "--reference", "cam_c", *files])
    assert res.exit_code == EXIT_REFUSED
    out = json.loads(res.stdout)  # the session's content, paths absolute
    ref = Path(out["reference"]["path"]).name
    assert ref in ("C0001.MP4", "C0002.MP4") and out["reference"]["angle"] == "cam_c"
    names = {a["name"]: [Path(c).name for c in a["clips"]] for a in out["angles"]}
    assert names["CAM_A"] == ["A001.MP4", "A002.MP4", "A003.MP4"]
    assert names["REC"] == ["ZOOM0001.WAV"] and names["IMG"] == ["IMG_0412.MOV"]
    check_placements(truth, {Path(c["path"]).name: (c["delta_seconds"], c["drift_slope"])
                             for c in out["clips"]}, ref)
    assert [Path(u["path"]).name for u in out["unplaced"]] == [UNRELATED]
    assert out["unplaced"][0]["exit_code"] == EXIT_REFUSED
    assert Path(out["session"]) == tmp_path / SESSION_NAME and Path(out["session"]).exists()


def test_room_shoot_placed_within_physics(tmp_path):
    """Every device with its own mic in a room: each talker reaches two mics with a path
    difference of a few ms, so an offset is exact only up to that (per hop of the chain)
    and, where the core could only use envelopes, up to the placement's reported error."""
    folder = cached_group_scenario("group_room")
    truth = load_truth(folder)
    report = sync_group([folder], sidecar_dir=tmp_path)
    assert [c.path.name for c in report.unplaced] == [UNRELATED]
    prop = {f["name"]: f["propagation_ms"] for f in truth["files"]}
    for c in report.clips:
        if not c.ok:
            continue
        chain = c.placed_via + [c.path.name]
        physics = sum(max(abs(prop[a][p] - prop[b][p]) for p in prop[a]) / 1000
                      for a, b in zip(chain, chain[1:]))
        d, _ = expected(truth, c.path.name, report.reference.name)
        assert abs(c.delta_seconds - d) <= 0.001 + physics + 3 * c.sigma_seconds, c.path.name


def test_reference_file_and_usage_errors(shoot, tmp_path):
    folder, truth = shoot
    report = sync_group([folder / n for n in related(truth)], reference="A001.MP4",
                        sidecar_dir=tmp_path, jobs=1)
    assert report.ok and report.reference.name == "A001.MP4" == truth["reference"]
    check_placements(truth, {c.path.name: (c.delta_seconds, c.drift_slope)
                             for c in report.clips}, "A001.MP4")
    assert run(["sync", "--angle", "A=A*", folder]).exit_code == EXIT_USAGE
    assert run(["sync", folder / "A001.MP4"]).exit_code == EXIT_USAGE
    assert run(["sync", "--all", "--reference", "NOPE", "--sidecar-dir", tmp_path,
                folder / "A001.MP4", folder / "C0001.MP4"]).exit_code == EXIT_USAGE
    assert run(["sync", "--all", "--angle", "X=*.xyz", folder / "A001.MP4",
                folder / "C0001.MP4"]).exit_code == EXIT_USAGE


# ----------------------------------------------------------------------------- pure parts


def test_scan_media(tmp_path):
    for rel in ["b/A001.MP4", "b/A002.mp4", "a.WAV", "c.mxf", "x.Mov", ".hidden.mov",
                ".cache/y.mp4", "notes.txt", "a.WAV.sync.json", SESSION_NAME, "d/e/f.aiff"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in scan_media([tmp_path])]
    assert found == ["a.WAV", "c.mxf", "x.Mov", "b/A001.MP4", "b/A002.mp4", "d/e/f.aiff"]
    # explicit files are taken as given, duplicates dropped
    again = scan_media([tmp_path / "notes.txt", tmp_path / "b", tmp_path / "b" / "A001.MP4"])
    assert [p.name for p in again] == ["notes.txt", "A001.MP4", "A002.mp4"]


def _info(path, fps=None, tc=None, rate=48000):
    streams = [StreamInfo(0, "audio", "aac", 10.0, audio_index=0, sample_rate=rate, channels=2)]
    if fps:
        streams.append(StreamInfo(1, "video", "h264", 10.0, fps=fps, width=320, height=180))
    return MediaInfo(Path(path), 1, "mov,mp4", 10.0, tuple(streams), timecode=tc)


def test_assign_angles_by_naming_and_device():
    paths = [Path("s/A001.MP4"), Path("s/A002.MP4"), Path("s/C0001.MP4"), Path("s/C0002.MP4"),
             Path("s/ZOOM0001.WAV"), Path("s/IMG_0001.MOV"), Path("s/IMG_0002.MOV")]
    from fractions import Fraction
    infos = [_info(p, Fraction(25)) for p in paths[:4]] + [_info(paths[4])] + [
        _info(paths[5], Fraction(30)), _info(paths[6], Fraction(60))]  # two phones' settings
    names, user = assign_angles(paths, infos)
    assert names[:5] == ["A", "A", "C", "C", "ZOOM"] and not user
    assert names[5] == "IMG" and names[6] != "IMG"
    names, user = assign_angles(paths, infos, [("B", "c0*.mp4")])
    assert names[2:4] == ["B", "B"] and user == {"B"}
    names, _ = assign_angles(paths, infos, [("B", "s/C*"), ("Z", "zoom*")])  # path, any case
    assert names[2:5] == ["B", "B", "Z"] and names[0] == "A"
    with pytest.raises(UsageError):  # "*" does not cross "/": nothing in a folder "c..."
        assign_angles([Path("/x/cold/A001.MP4")], [None], [("C", "c*.mp4")])
    with pytest.raises(UsageError):
        assign_angles(paths, infos, [("B", "*.xyz")])
    with pytest.raises(UsageError):
        assign_angles(paths, infos, [("B", "C*"), ("D", "*0001*")])


def test_timecode_seconds():
    from fractions import Fraction
    assert timecode_seconds(_info("a", Fraction(25), "10:00:30:00")) == 36030.0
    assert timecode_seconds(_info("a", Fraction(25), None)) is None
    # 29.97 drop-frame: 00:10:00;00 is exactly 17982 frames
    t = timecode_seconds(_info("a", Fraction(30000, 1001), "00:10:00;00"))
    assert t == pytest.approx(17982 * 1001 / 30000)


def _edge(i, j, delta, slope=0.0, span=(0.0, 60.0), n=24, conf=1.0):
    """A pair ``t_i = delta + t_j (1 + slope)`` measured over ``span`` of j's clock."""
    ov_ref = (delta + span[0] * (1 + slope), delta + span[1] * (1 + slope))
    res = SyncResult(delta_seconds=delta, drift_slope=slope, confidence=conf,
                     overlap_in_reference=ov_ref, overlap_in_source=span, n_windows=n,
                     n_agree=n, residual_ms=0.05, spread_ms=0.1, correlation=0.9, polarity=1,
                     coarse_peak=0.9)
    return Edge(i, j, res)


def test_chained_drift_composes():
    # A (1) -> R (0): t_R = dA + t_A (1 + sA); B (2) -> A: t_A = dBA + t_B (1 + sBA)
    dA, sA, dBA, sBA = 12.5, 40e-6, 30.25, -250e-6
    edges = [_edge(0, 1, dA, sA), _edge(1, 2, dBA, sBA, span=(0.0, 20.0))]
    p = solve_placement(edges, [0, 1, 2], 0, [0, 1, 2])
    assert p.delta[2] == pytest.approx(dA + dBA * (1 + sA), abs=1e-9)
    assert p.slope[2] == pytest.approx((1 + sBA) * (1 + sA) - 1, abs=1e-12)


def test_one_bad_pair_cannot_misplace_a_clip():
    # four files, every pair measured; true t=0 of file k at 10 k seconds; one pair 5 ms off
    truth = {0: 0.0, 1: 10.0, 2: 20.0, 3: 30.0}
    edges = [_edge(i, j, truth[j] - truth[i]) for i in range(4) for j in range(i + 1, 4)]
    edges[3] = _edge(1, 2, truth[2] - truth[1] + 0.005, conf=0.9995)
    kept, dropped, loo = prune_inconsistent(edges, 0, [0, 1, 2, 3])
    assert [(d.edge.i, d.edge.j) for d in dropped] == [(1, 2)]
    assert dropped[0].residual == pytest.approx(0.005, abs=1e-4)
    p = solve_placement(kept, [0, 1, 2, 3], 0, [0, 1, 2, 3])
    assert all(abs(p.delta[f] - truth[f]) < 1e-9 for f in truth)
    assert max(loo.values()) < 1e-9
    # a lone triangle cannot tell which pair is wrong: the least confident one goes
    tri = [_edge(0, 1, 10.0), _edge(1, 2, 10.0 + 0.004, conf=0.9991), _edge(0, 2, 20.0)]
    kept, dropped, _ = prune_inconsistent(tri, 0, [0, 1, 2])
    assert [(d.edge.i, d.edge.j) for d in dropped] == [(1, 2)]
    p = solve_placement(kept, [0, 1, 2], 0, [0, 1, 2])
    assert np.allclose([p.delta[1], p.delta[2]], [10.0, 20.0])
