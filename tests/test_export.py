"""`polysync export`: every format at every rate, read back where a reader exists.

FCPXML is validated against Apple's DTDs in ../shared/fcpxml-dtd when that folder exists; xmeml
is re-read with OTIO's fcp_xml adapter and EDLs with its cmx_3600 adapter, and the cut points
must come back identical to the frame.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest
from click.testing import CliRunner
from lxml import etree

from polysync.cli import main
from polysync.decisions import Shot, read_edl_json, write_edl_json
from polysync.errors import EXIT_CORRUPT, EXIT_INPUT, EXIT_OUTPUT, EXIT_USAGE, CorruptFileError
from polysync.export import export_timeline, reel_names
from polysync.timeline import role_track
from timeline_media import RATES, assert_on_grid, clip_items, make_wav

F = Fraction
DTD_DIR = Path(__file__).resolve().parents[2] / "shared" / "fcpxml-dtd"
FCPXML_VERSIONS = ("1.8", "1.9", "1.10", "1.11")


HAVE_FCP_READER = "fcp_xml" in {a.name for a in otio.plugins.ActiveManifest().adapters}


def test_fcp_xml_reader_is_installed():
    if not HAVE_FCP_READER:
        pytest.skip("OTIO's fcp_xml reader (pip install otio-fcp-adapter) is not installed: "
                    "xmeml files are written but not read back")


def frames(rt: otio.opentime.RationalTime, rate: Fraction) -> int:
    """A re-read time as timeline frames; it must land exactly on a frame."""
    x = F(rt.value) * rate / F(rt.rate)
    n = round(x)
    assert abs(x - n) < F(1, 1000), (rt, rate)
    return n


def cuts(track, rate: Fraction) -> list[tuple[int, int]]:
    """(start, end) timeline frames of each clip of a track (the cmx reader trims a track to
    start at its first event: a negative source_range start puts it back)."""
    shift = -frames(track.source_range.start_time, rate) if track.source_range else 0
    out = []
    for k, _ in clip_items(track):
        span = track.range_of_child_at_index(k)
        out.append((shift + frames(span.start_time, rate),
                    shift + frames(span.end_time_exclusive(), rate)))
    return out


def video_tracks(tl) -> list:
    return [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]


@functools.lru_cache(maxsize=None)
def fcpxml_dtd(version: str) -> etree.DTD:
    return etree.DTD(str(DTD_DIR / f"FCPXMLv{version.replace('.', '_')}.dtd"))


def parse_time(text: str) -> Fraction:
    assert text.endswith("s"), text
    return F(text[:-1])


def check_fcpxml(path: Path, version: str, tl) -> None:
    """DTD-valid at ``version``; every time on its frame grid; the same cuts as ``tl``."""
    rate = F(tl.metadata["polysync"]["rate"])
    tree = etree.parse(str(path))
    root = tree.getroot()
    assert root.get("version") == version
    if DTD_DIR.is_dir():
        dtd = fcpxml_dtd(version)
        assert dtd.validate(tree), dtd.error_log.filter_from_errors()
    formats = {f.get("id"): parse_time(f.get("frameDuration")) for f in root.iter("format")}
    grids = {}
    for asset in root.iter("asset"):
        grid = formats[asset.get("format")] if asset.get("format") else F(1, int(asset.get(
            "audioRate")))
        grids[asset.get("id")] = grid
        for attr in ("start", "duration"):
            assert parse_time(asset.get(attr)) % grid == 0
        src = asset.get("src") if version == "1.8" else asset.find("media-rep").get("src")
        assert Path(unquote(urlparse(src).path)).exists()
    step = 1 / rate
    for el in root.iter("gap", "mc-clip", "asset-clip", "sequence", "multicam"):
        on_timeline = ("offset", "duration", "tcStart")
        for attr in on_timeline + (() if el.tag == "asset-clip" else ("start",)):
            if el.get(attr) is not None:
                assert parse_time(el.get(attr)) % step == 0, (el.tag, attr, el.get(attr))
        if el.tag == "asset-clip":
            assert parse_time(el.get("start")) % grids[el.get("ref")] == 0
    # The multicam's angles sit where the OTIO angle tracks put them.
    placed = {}
    for angle in root.iter("mc-angle"):
        for clip in angle.iter("asset-clip"):
            placed.setdefault(angle.get("name"), []).append(
                (parse_time(clip.get("offset")) * rate,
                 (parse_time(clip.get("offset")) + parse_time(clip.get("duration"))) * rate))
    for track in video_tracks(tl):
        if track.metadata["polysync"]["role"] == "angle" and clip_items(track):
            assert placed[track.name] == cuts(track, rate)
    program = role_track(tl, "program")
    spine = root.find(".//spine")
    if program is None:
        assert spine is None
        return
    shots = [(parse_time(c.get("offset")) * rate,
              (parse_time(c.get("offset")) + parse_time(c.get("duration"))) * rate)
             for c in spine if c.tag == "mc-clip"]
    assert shots == cuts(program, rate)
    insets = [c for c in spine.iter("mc-clip") if c.get("lane") == "1"]
    assert len(insets) == len(clip_items(role_track(tl, "pip")))
    for inset in insets:
        assert inset.find("mc-source/adjust-transform") is not None


def check_xmeml(path: Path, tl) -> None:
    """OTIO's fcp_xml reader sees the same cuts and in-points as ``tl``."""
    if not HAVE_FCP_READER:
        return
    rate = F(tl.metadata["polysync"]["rate"])
    back = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    assert isinstance(back, otio.schema.Timeline)
    ours = video_tracks(tl)
    # xmeml stacks the PiP above the Program (it has a real transform there).
    if role_track(tl, "pip") is not None:
        ours[-2], ours[-1] = ours[-1], ours[-2]
    theirs = video_tracks(back)
    assert len(theirs) == len(ours)
    for mine, read in zip(ours, theirs):
        assert cuts(read, rate) == cuts(mine, rate)
        for (_, a), (_, b) in zip(clip_items(mine), clip_items(read)):
            assert b.source_range.start_time.rate == a.source_range.start_time.rate
            assert b.source_range.start_time.value == a.source_range.start_time.value
            assert b.media_reference.target_url.replace("file://localhost/", "file:///") == \
                a.media_reference.target_url
    audio = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio]
    read_audio = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert [cuts(t, rate) for t in read_audio] == [cuts(t, rate) for t in audio]


def check_edl(path: Path, tl) -> None:
    """OTIO's cmx_3600 reader sees the Program's (or first angle's) cuts and source timecodes."""
    rate = F(tl.metadata["polysync"]["rate"])
    text = path.read_text(encoding="ascii")
    ntsc_df = rate in (F(30000, 1001), F(60000, 1001))
    assert ("FCM: DROP FRAME" in text) == ntsc_df
    back = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate))
    track = role_track(tl, "program") or next(t for t in video_tracks(tl) if clip_items(t))
    read = back.tracks[0]
    assert cuts(read, rate) == cuts(track, rate)
    for (_, a), (_, b) in zip(clip_items(track), clip_items(read)):
        reel = b.metadata["cmx_3600"]["reel"]
        assert len(reel) <= 8 and reel.replace("_", "").isalnum() and reel.isascii()
        start = a.source_range.start_time
        if start.rate == float(rate):
            assert b.source_range.start_time.value == start.value
    for line in text.splitlines():
        if line[:3].isdigit():
            assert (";" in line) == ntsc_df


def export_all(tmp: Path, inputs: list, tag: str) -> None:
    """Write every format for ``inputs`` and check each one."""
    tl = None
    for suffix in ("otio", "xml", "edl"):
        out = tmp / f"{tag}.{suffix}"
        tl = export_timeline(inputs, out)
        assert not list(tmp.glob("*.part"))
        if suffix == "otio":
            back = otio.adapters.read_from_file(str(out))
            assert back.is_equivalent_to(tl)
            assert_on_grid(back, F(tl.metadata["polysync"]["rate"]))
        elif suffix == "xml":
            check_xmeml(out, tl)
        else:
            check_edl(out, tl)
    for version in FCPXML_VERSIONS:
        out = tmp / f"{tag}-{version}.fcpxml"
        tl = export_timeline(inputs, out, fcpxml_version=version)
        check_fcpxml(out, version, tl)


@pytest.mark.parametrize("name", list(RATES))
def test_every_format_at_every_rate(shoots, tmp_path, name):
    shoot = shoots(name)
    export_all(tmp_path, shoot.files, "angles")
    export_all(tmp_path, [shoot.edl], "edit")
    # An auto-edit saved as .otio exports the same as the edl.json it came from.
    export_timeline([shoot.edl], tmp_path / "cut.otio")
    export_all(tmp_path, [tmp_path / "cut.otio"], "from-otio")
    assert (tmp_path / "from-otio.edl").read_text().splitlines()[1:] == \
        (tmp_path / "edit.edl").read_text().splitlines()[1:]


def test_mixed_rates_and_rate_override(shoots, tmp_path):
    shoot = shoots("mixed")
    export_all(tmp_path, shoot.files, "mixed")
    export_all(tmp_path, [shoot.edl], "mixed-edit")
    # A 59.94 angle's shots start between two frames of a 25 fps EDL: a dozen shots of 1-2 s
    # alternating with it (OTIO's writer mixing the two rates put a record-in a frame early).
    dec = read_edl_json(shoots("mixed5994").edl)
    t, dec.shots = 12, []
    while t + 60 < 20 * 25 - 12:
        n = 25 + (len(dec.shots) * 7) % 31
        cam = len(dec.shots) % 2
        dec.shots.append(Shot(F(t, 25), F(t + n, 25), cam, 1 - cam if t % 3 == 0 else None))
        t += n
    export_all(tmp_path, [write_edl_json(dec, tmp_path / "cut5994.edl.json")], "mixed5994")
    tl = export_timeline([shoot.edl], tmp_path / "cut25.fcpxml", rate="25")
    assert tl.metadata["polysync"]["rate"] == "25/1"
    check_fcpxml(tmp_path / "cut25.fcpxml", "1.10", tl)
    tl = export_timeline(shoot.files, tmp_path / "ntsc.xml", rate="29.97")
    assert tl.metadata["polysync"]["rate"] == "30000/1001"


def test_drifting_angles_export_in_pieces(shoots, tmp_path):
    """Angles re-anchored against clock drift reach every editor piece by piece: the multicam's
    mc-angles and the xmeml angle tracks hold the same cuts as the OTIO angle tracks."""
    shoot = shoots("drift")
    export_all(tmp_path, shoot.files, "angles")
    export_all(tmp_path, [shoot.edl], "edit")
    root = etree.parse(str(tmp_path / "angles-1.10.fcpxml")).getroot()
    pieces = [len(a.findall("asset-clip")) for a in root.iter("mc-angle")]
    assert pieces[0] == 1 and min(pieces[1:]) >= 3


def test_paths_with_spaces_hash_percent_and_accents(shoots, tmp_path):
    shoot = shoots("special")
    out_dir = tmp_path / "sortie #1 100% à"
    out_dir.mkdir()
    export_all(out_dir, shoot.files, "angles")
    export_all(out_dir, [shoot.edl], "édit")
    want = {p.resolve() for p in shoot.files}
    xml = (out_dir / "angles.xml").read_text(encoding="utf-8")
    urls = {u.split("</pathurl>")[0] for u in xml.split("<pathurl>")[1:]}
    assert {Path(unquote(urlparse(u).path)) for u in urls} == want
    assert all(u.startswith("file://localhost/") and " " not in u for u in urls)
    fcpxml = etree.parse(str(out_dir / "angles-1.10.fcpxml"))
    srcs = {e.get("src") for e in fcpxml.iter("media-rep")}
    assert {Path(unquote(urlparse(u).path)) for u in srcs} == want


def test_cli_writes_each_format(shoots, tmp_path):
    shoot = shoots("25")
    runner = CliRunner()
    for suffix in ("otio", "fcpxml", "xml", "edl"):
        out = tmp_path / f"shoot.{suffix}"
        result = runner.invoke(main, ["export", *map(str, shoot.files), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.exists() and "wrote" in result.output
        # an EDL has one track: the user is told the multicam's other angles are not in it
        assert ("holds one track" in result.output) == (suffix == "edl")
    result = runner.invoke(main, ["export", str(shoot.edl), "--out", str(tmp_path / "cut.fcpxml"),
                                  "--fcpxml-version", "1.8"])
    assert result.exit_code == 0, result.output
    assert 'version="1.8"' in (tmp_path / "cut.fcpxml").read_text(encoding="utf-8")
    result = runner.invoke(main, ["export", str(tmp_path / "shoot.otio"), "--out",
                                  str(tmp_path / "cut.txt"), "--format", "edl"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cut.txt").read_text().startswith("TITLE: shoot\nFCM: NON-DROP FRAME")


def test_otioconvert_uses_the_plugins(shoots, tmp_path):
    shoot = shoots("30")
    export_timeline([shoot.edl], tmp_path / "cut.otio")
    out = tmp_path / "cut.fcpxml"
    subprocess.run([sys.executable, "-m", "opentimelineio.console.otioconvert", "-i",
                    str(tmp_path / "cut.otio"), "-o", str(out)], check=True, capture_output=True)
    check_fcpxml(out, "1.10", otio.adapters.read_from_file(str(tmp_path / "cut.otio")))


def test_reel_names_are_clean_and_unique():
    reels = reel_names(["CAM A #1", "cam_a-1", "récit long name", "", "日本"])
    assert reels == ["CAM_A_1", "CAM_A_12", "RECIT_LO", "CAM4", "CAM5"]
    assert all(len(r) <= 8 for r in reels)


# -- errors -------------------------------------------------------------------------------------

def run_error(args: list, code: int, *words: str) -> str:
    result = CliRunner().invoke(main, ["export", *map(str, args)])
    assert result.exit_code == code, result.output
    err = result.stderr
    assert err.startswith("polysync: error: ") and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


@pytest.fixture
def copied(shoots, tmp_path):
    """A private copy of the 25 fps shoot (media + sidecars) the test may damage."""
    shoot = shoots("25")
    dest = tmp_path / "copy"
    shutil.copytree(shoot.folder, dest)
    return dest, [dest / p.name for p in shoot.files]


def test_inputs_synced_to_another_reference(copied, tmp_path):
    folder, files = copied
    odd = folder / (files[2].name + ".sync.json")
    sc = json.loads(odd.read_text())
    odd.write_text(json.dumps({**sc, "reference": "elsewhere.mp4"}), encoding="utf-8")
    # the one that differs is named, with both references
    run_error([*files, "--out", tmp_path / "x.otio"], EXIT_CORRUPT, f"{odd}: synced to "
              f"elsewhere.mp4, the other inputs to {sc['reference']}")


def test_missing_sidecar(copied, tmp_path):
    folder, files = copied
    (folder / (files[1].name + ".sync.json")).unlink()
    out = tmp_path / "x.fcpxml"
    run_error([*files, "--out", out], EXIT_CORRUPT, "no sidecar", files[1].name + ".sync.json")
    assert not out.exists() and not list(tmp_path.glob(".x.fcpxml*"))


def test_stale_sidecar(copied, tmp_path):
    folder, files = copied
    with open(files[1], "ab") as fh:
        fh.write(b"\0" * 100)
    run_error([*files, "--out", tmp_path / "x.otio"], EXIT_CORRUPT, "stale sidecar",
              files[1].name)


def test_sidecar_dir(copied, tmp_path):
    folder, files = copied
    side = tmp_path / "sidecars"
    side.mkdir()
    for p in files:
        (folder / (p.name + ".sync.json")).rename(side / (p.name + ".sync.json"))
    run_error([*files, "--out", tmp_path / "x.otio"], EXIT_CORRUPT, "no sidecar")
    result = CliRunner().invoke(main, ["export", *map(str, files), "--out",
                                       str(tmp_path / "x.otio"), "--sidecar-dir", str(side)])
    assert result.exit_code == 0, result.output


def test_unknown_suffix_and_format(copied, tmp_path):
    _, files = copied
    run_error([*files, "--out", tmp_path / "x.mp4"], EXIT_USAGE, "'.mp4'", "--format")
    result = CliRunner().invoke(main, ["export", *map(str, files), "--out",
                                       str(tmp_path / "x.otio"), "--format", "avid"])
    assert result.exit_code == EXIT_USAGE
    run_error([files[0], "--out", files[0], "--format", "otio"], EXIT_OUTPUT, "overwrite")


def test_unreadable_timelines(copied, tmp_path):
    bad = tmp_path / "bad cut.otio"
    bad.write_text("{ not json", encoding="utf-8")
    run_error([bad, "--out", tmp_path / "x.fcpxml"], EXIT_CORRUPT, "unreadable timeline",
              str(bad))
    run_error([tmp_path / "gone.otio", "--out", tmp_path / "x.fcpxml"], EXIT_CORRUPT,
              "timeline not found")
    edl = tmp_path / "edl.json"
    edl.write_text('{"inputs": [], "edl": []}', encoding="utf-8")
    run_error([edl, "--out", tmp_path / "x.xml"], EXIT_CORRUPT, "corrupt edit list", str(edl))
    # no shots; a frame rate that is none; offsets missing or one short (never taken as 0)
    good = json.loads(write_edl_json(read_edl_json(copied[0] / "edl.json"), edl).read_text())
    for change in ({"edl": []}, {"frame_rate": "abc"}, {"frame_rate": 0}, {"deltas": None},
                   {"deltas": good["deltas"][:-1]}, {"drift_slopes": [0.0]}):
        edl.write_text(json.dumps({k: v for k, v in {**good, **change}.items() if v is not None}),
                       encoding="utf-8")
        run_error([edl, "--out", tmp_path / "x.xml"], EXIT_CORRUPT, "corrupt edit list",
                  str(edl))
    foreign = tmp_path / "foreign.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(name="other"), str(foreign))
    run_error([foreign, "--out", tmp_path / "x.fcpxml"], EXIT_CORRUPT, "not a polysync timeline",
              str(foreign))
    with pytest.raises(CorruptFileError):
        export_timeline([foreign], tmp_path / "x.edl")


def test_missing_media_and_bad_options(copied, tmp_path):
    folder, files = copied
    run_error([folder / "nope.mp4", "--out", tmp_path / "x.otio"], EXIT_INPUT, "file not found")
    run_error([*files, "--out", tmp_path / "x.otio", "--rate", "fast"], EXIT_USAGE,
              "not a frame rate")
    run_error([*files, "--out", tmp_path / "no such dir" / "x.otio"], EXIT_OUTPUT,
              "folder does not exist")
    run_error([files[0], folder / "edl.json", "--out", tmp_path / "x.otio"], EXIT_USAGE,
              "not both")
    rec = tmp_path / "lonely.wav"
    make_wav(rec, 0.5)
    run_error([rec, "--out", tmp_path / "x.otio"], EXIT_CORRUPT, "no sidecar")


def test_session_file_from_sync_all(copied, tmp_path):
    folder, files = copied
    session = folder / "polysync-session.json"
    session.write_text(json.dumps({"kind": "polysync-session", "schema_version": 1, "clips": [
        {"path": p.name, "angle": p.stem} for p in files]}), encoding="utf-8")
    tl = export_timeline([session], tmp_path / "shoot.fcpxml")
    assert [a["name"] for a in tl.metadata["polysync"]["angles"]] == [p.stem for p in files]
    check_fcpxml(tmp_path / "shoot.fcpxml", "1.10", tl)
