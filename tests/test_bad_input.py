"""Bad input: one clear line naming the file, a documented exit code, no traceback, nothing written."""

import os
from dataclasses import replace

import pytest
from click.testing import CliRunner

from conftest import snapshot
from polysync.cli import main
from polysync.errors import EXIT_CORRUPT, EXIT_INPUT, EXIT_OUTPUT, EXIT_REFUSED, EXIT_USAGE
from polysync.sidecar import Sidecar, load_sidecar, save_sidecar, sidecar_path


def run(args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    lines = [ln for ln in res.output.splitlines() if ln.startswith("polysync: error")]
    assert "Traceback" not in res.output
    return res, lines


def test_unrelated_recording_is_refused_and_gets_no_sidecar(scenario, tmp_path):
    folder, truth = scenario("unrelated")
    unrelated = next(f["name"] for f in truth["files"] if not f["related"])
    related = [f["name"] for f in truth["files"]
               if f["related"] and f["name"] != truth["reference"]]
    res, lines = run(["sync", "--sidecar-dir", tmp_path, folder / truth["reference"],
                      folder / unrelated, *[folder / r for r in related]])
    assert res.exit_code == EXIT_REFUSED
    assert len(lines) == 1 and unrelated in lines[0] and "unrelated" in lines[0]
    assert not (tmp_path / (unrelated + ".sync.json")).exists()
    for r in related:  # the related ones still sync
        assert (tmp_path / (r + ".sync.json")).exists()


def test_unrelated_alone_writes_nothing_at_all(scenario, tmp_path):
    folder, truth = scenario("unrelated")
    unrelated = next(f["name"] for f in truth["files"] if not f["related"])
    res, _ = run(["sync", "--sidecar-dir", tmp_path, folder / truth["reference"], folder / unrelated])
    assert res.exit_code == EXIT_REFUSED
    assert list(tmp_path.iterdir()) == []


def test_refusal_removes_an_earlier_placement_against_the_same_reference(scenario, tmp_path):
    folder, truth = scenario("unrelated")
    unrelated = next(f["name"] for f in truth["files"] if not f["related"])
    ref = truth["reference"]
    earlier = Sidecar(source=unrelated, reference=ref, delta_seconds=1.5, drift_slope=0.0,
                      overlap_in_reference=(1.5, 20.0), overlap_in_source=(0.0, 18.5))
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    save_sidecar(earlier, sidecar_path(unrelated, mine))
    save_sidecar(replace(earlier, reference="another.mp4"), sidecar_path(unrelated, other))
    res, lines = run(["sync", "--sidecar-dir", mine, folder / ref, folder / unrelated])
    assert res.exit_code == EXIT_REFUSED and len(lines) == 1
    # edit/export would have used the placement this run refuses: it is gone, and said so
    assert not sidecar_path(unrelated, mine).exists()
    assert f"removed {sidecar_path(unrelated, mine)}" in res.output
    # a placement against another reference is not this run's to judge
    res, _ = run(["sync", "--sidecar-dir", other, folder / ref, folder / unrelated])
    assert res.exit_code == EXIT_REFUSED
    assert load_sidecar(sidecar_path(unrelated, other)).reference == "another.mp4"
    assert "removed" not in res.output


@pytest.mark.parametrize("bad, words", [
    ("missing.mp4", "file not found"),
    ("notmedia.mp4", "not a media file"),
    ("noaudio.mp4", "no audio stream"),
    ("silent.mp4", "silent"),
])
def test_bad_sources(scenario, tmp_path, bad, words):
    folder, truth = scenario("bad_inputs")
    ref = folder / truth["reference"]
    res, lines = run(["sync", "--sidecar-dir", tmp_path, ref, folder / bad])
    assert res.exit_code == EXIT_INPUT, res.output
    assert len(lines) == 1 and bad in lines[0] and words in lines[0]
    assert not (tmp_path / (bad + ".sync.json")).exists()


@pytest.mark.parametrize("bad", ["missing.mp4", "notmedia.mp4", "noaudio.mp4", "silent.mp4"])
def test_bad_reference(scenario, tmp_path, bad):
    folder, truth = scenario("bad_inputs")
    other = next(f["name"] for f in truth["files"] if f["related"])
    res, lines = run(["sync", "--sidecar-dir", tmp_path, folder / bad, folder / other])
    assert res.exit_code == EXIT_INPUT and len(lines) == 1 and bad in lines[0]
    assert list(tmp_path.iterdir()) == []


def unwritable_folder(tmp_path):
    """A folder this process cannot create files in (root ignores permissions: use /proc)."""
    if os.geteuid() == 0:
        return "/proc"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


def test_unwritable_folder(scenario, tmp_path):
    folder, truth = scenario("basic")
    ro = unwritable_folder(tmp_path)
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    res, lines = run(["sync", "--sidecar-dir", ro, folder / truth["reference"], folder / src])
    assert res.exit_code == EXIT_OUTPUT and len(lines) == 1 and str(ro) in lines[0]


def test_unwritable_sidecar_location_fails_before_decoding(scenario, tmp_path):
    folder, truth = scenario("basic")
    target = tmp_path / "no" / "such" / "dir"
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    res, lines = run(["sync", "--sidecar-dir", target, folder / truth["reference"], folder / src])
    assert res.exit_code == EXIT_OUTPUT and len(lines) == 1 and "dir" in lines[0]
    assert not target.exists()


def test_read_only_media_folder_uses_sidecar_dir(scenario_copy, tmp_path):
    folder, truth = scenario_copy("basic")
    before = snapshot(folder)
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    out = tmp_path / "sidecars"
    out.mkdir()
    res, _ = run(["sync", "--sidecar-dir", out, folder / truth["reference"], folder / src])
    assert res.exit_code == 0
    assert (out / (src + ".sync.json")).exists()
    assert snapshot(folder) == before


def test_same_file_names_from_two_cards_are_refused_with_one_sidecar_dir(scenario, tmp_path):
    """Camera cards all start at C0001.MP4: two of them cannot share one --sidecar-dir."""
    folder, truth = scenario("basic")
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    cards = []
    for card, name in (("A", truth["reference"]), ("B", src)):
        (tmp_path / card).mkdir()
        cards.append(tmp_path / card / "C0001.MP4")
        cards[-1].symlink_to(folder / name)
    out = tmp_path / "sidecars"
    out.mkdir()
    for cmd in (["sync"], ["export", "--out", tmp_path / "cut.otio"]):
        res, lines = run([*cmd, "--sidecar-dir", out, *cards])
        assert res.exit_code == EXIT_USAGE and len(lines) == 1
        assert str(cards[1]) in lines[0] and str(cards[0]) in lines[0]
    assert not list(out.iterdir()) and not (tmp_path / "cut.otio").exists()


@pytest.mark.parametrize("content", ["{broken", '{"schema_version": 1}', "[]"])
def test_verify_with_corrupt_sidecar(scenario, tmp_path, content):
    folder, truth = scenario("basic")
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    bad = tmp_path / (src + ".sync.json")
    bad.write_text(content)
    res, lines = run(["verify", folder / truth["reference"], folder / src, bad])
    assert res.exit_code == EXIT_CORRUPT and len(lines) == 1 and str(bad) in lines[0]
    assert bad.read_text() == content


def test_verify_without_sidecar(scenario, tmp_path):
    folder, truth = scenario("basic")
    src = next(f["name"] for f in truth["files"] if f["name"] != truth["reference"])
    res, lines = run(["verify", "--sidecar-dir", tmp_path, folder / truth["reference"], folder / src])
    assert res.exit_code == EXIT_CORRUPT and "sync" in lines[0]
