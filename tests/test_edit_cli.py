"""``polysync edit`` end to end on a generated shoot, the original's options, and bad input."""

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from polysync.cli import main
from polysync.decisions import read_edl_json
from polysync.edit import SpeakerSpec, parse_speaker
from polysync.errors import UsageError
from polysync_fixtures import load_truth
from test_activity import lav_scenario


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """duo + lavaliers, synced with sidecars in a scratch folder: (folder, sidecars, truth)."""
    folder = lav_scenario("duo")
    sidecars = tmp_path_factory.mktemp("sidecars")
    res = run("sync", folder / "cam_a.mp4", folder / "cam_b.mp4", folder / "lav_ann.wav",
              folder / "lav_bob.wav", "--sidecar-dir", sidecars, "-q")
    assert res.exit_code == 0, res.output
    return folder, sidecars, load_truth(folder)


def speaker_share(dec, truth) -> float:
    """Share of single-speaker turn time on which the speaker's angle is on screen."""
    angle = {Path(p).name: k for k, p in enumerate(dec.inputs)}
    frames = {angle[f["name"]]: f["frames"] for f in truth["files"] if f["name"] in angle}
    shots = [(float(s.start), float(s.end), s.cam) for s in dec.shots]
    turns = [s for s in truth["speech"] if s["kind"] == "turn"]
    seen = total = 0.0
    for t in turns:
        a, b = max(t["start"], shots[0][0]), min(t["end"], shots[-1][1])
        for o in turns:  # leave out crosstalk
            if o is not t and o["start"] < b and o["end"] > a:
                if o["start"] <= a:
                    a = max(a, o["end"])
                else:
                    b = min(b, o["start"])
        if b <= a:
            continue
        total += b - a
        seen += sum(max(0.0, min(b, e) - max(a, s)) for s, e, cam in shots
                    if t["person"] in frames[cam])
    return seen / total


def test_edit_writes_the_originals_edl_json(synced, tmp_path):
    folder, sidecars, truth = synced
    out = tmp_path / "edl.json"
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4",
              "--speaker", f"ann={folder / 'lav_ann.wav'}:cam_a.mp4",
              "--speaker", f"bob={folder / 'lav_bob.wav'}:cam_b.mp4",
              "--out", out, "--sidecar-dir", sidecars, "-q")
    assert res.exit_code == 0, res.output
    assert "EDL:" in res.output
    data = json.loads(out.read_text())
    assert {"inputs", "deltas", "duration_sec", "audio_source", "coverage", "edl"} <= set(data)
    assert all(set(r) <= {"start", "end", "cam", "pip"} for r in data["edl"])
    dec = read_edl_json(out)
    assert [p.name for p in dec.inputs] == ["cam_a.mp4", "cam_b.mp4"]
    assert dec.rate == Fraction(24)
    for a, b in zip(dec.shots, dec.shots[1:]):
        assert a.end == b.start and a.cam != b.cam
    assert all(s.duration >= 2 for s in dec.shots)
    assert speaker_share(dec, truth) >= 0.85


def test_an_angle_no_speaker_names_follows_its_own_sound(synced, tmp_path):
    """One lavalier for Ann: Bob, on cam_b, is still followed, by cam_b's own sound."""
    folder, sidecars, truth = synced
    out = tmp_path / "edl.json"
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4",
              "--speaker", f"ann={folder / 'lav_ann.wav'}:cam_a.mp4",
              "--out", out, "--sidecar-dir", sidecars)
    assert res.exit_code == 0, res.output
    frames = {ln.split()[1]: ln.split()[2] for ln in res.stdout.splitlines()
              if ln.split() and ln.split()[0] in ("cam0", "cam1")}
    assert frames == {"cam_a.mp4": "ann", "cam_b.mp4": "cam_b"}
    share = speaker_share(read_edl_json(out), truth)
    print(f"speaker on screen with one lavalier: {share:.1%}")
    assert share >= 0.85


def test_the_originals_options_still_work(synced, tmp_path):
    folder, sidecars, truth = synced
    out = tmp_path / "edl.json"
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4", "--out", out,
              "--sidecar-dir", sidecars, "--mode", "rotation", "--min-dwell", "3",
              "--max-dwell", "20", "--seed", "7", "--switch-threshold", "1.5",
              "--coverage", "1:10:80", "--audio-source", "1", "-q")
    assert res.exit_code == 0, res.output
    dec = read_edl_json(out)
    assert dec.audio_source == 1 and dec.coverage[1] == (10.0, 80.0)
    assert all(s.duration >= 3 and s.duration <= 20 for s in dec.shots)
    assert all(10 <= s.start and s.end <= 80 for s in dec.shots if s.cam == 1)
    # the original's greedy rule is kept for comparison
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4", "--out", out,
              "--sidecar-dir", sidecars, "--mode", "greedy", "-q")
    assert res.exit_code == 0, res.output
    assert read_edl_json(out).shots


def test_edit_to_a_timeline_with_pip(synced, tmp_path):
    folder, sidecars, _ = synced
    out = tmp_path / "cut.otio"
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4", "--pip", "--rate", "25",
              "--out", out, "--sidecar-dir", sidecars, "-q")
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert '"Program"' in text and '"PiP"' in text


def test_unknown_angle_in_speaker(synced, tmp_path):
    folder, sidecars, _ = synced
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4",
              "--speaker", f"ann={folder / 'lav_ann.wav'}:CAM_X.mxf",
              "--out", tmp_path / "e.json", "--sidecar-dir", sidecars)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "CAM_X.mxf" in lines[0] and "not one of the inputs" in lines[0]
    assert not (tmp_path / "e.json").exists()


def test_mic_that_does_not_overlap(synced, tmp_path):
    folder, sidecars, _ = synced
    moved = tmp_path / "moved"
    moved.mkdir()
    for p in sidecars.iterdir():
        moved.joinpath(p.name).write_text(p.read_text())
    sc = moved / "lav_bob.wav.sync.json"
    data = json.loads(sc.read_text())
    data["delta_seconds"] += 5000.0  # now placed long after the cameras
    sc.write_text(json.dumps(data))
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4",
              "--speaker", f"bob={folder / 'lav_bob.wav'}:cam_b.mp4",
              "--out", tmp_path / "e.json", "--sidecar-dir", moved)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "does not overlap" in lines[0] and "lav_bob.wav" in lines[0]


def test_missing_sidecar(tmp_path):
    folder = lav_scenario("duo")
    res = run("edit", folder / "cam_a.mp4", folder / "cam_b.mp4", "--out", tmp_path / "e.json",
              "--sidecar-dir", tmp_path)
    assert res.exit_code == 5
    assert "no sidecar" in res.output and len(res.output.strip().splitlines()) == 1


def test_parse_speaker():
    assert parse_speaker("Ann=lav_ann.wav") == SpeakerSpec("Ann", Path("lav_ann.wav"))
    assert parse_speaker("Bob=REC.wav#2:CAM_B.mxf") == SpeakerSpec(
        "Bob", Path("REC.wav"), stream=2, angle="CAM_B.mxf")
    assert parse_speaker("Cy=REC.wav#0.3") == SpeakerSpec("Cy", Path("REC.wav"), 0, 3)
    for bad in ("Ann", "=x.wav", "Ann=", "Ann=REC.wav#two", "Ann=x.wav:"):
        with pytest.raises(UsageError):
            parse_speaker(bad)
