"""`polysync report`: a self-contained HTML page whose plots tell a good sync from a bad one."""

import base64
import json
import re
import sys
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from polysync.cli import main
from polysync.decisions import EditDecisions, Shot, write_edl_json
from polysync.errors import UsageError
from polysync.report import DISAGREES, NOT_ANALYSED, RELIABLE, UNRELIABLE, coarse_curve, make_report
from polysync.sidecar import load_sidecar, sidecar_path
from polysync.sync import sync_files

PNG = b"\x89PNG\r\n\x1a\n"
SOURCE_PLOTS = ("Envelopes after alignment", "Coarse correlation", "Drift fit and window residuals",
                "Audio streams")


def images(page: str) -> list[bytes]:
    found = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', page)
    return [base64.b64decode(d) for d in found]


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="angle".*?</section>', page, flags=re.S)


def media_of(folder, truth):
    ref = truth["reference"]
    return [folder / ref] + [folder / f["name"] for f in truth["files"]
                             if f["related"] and f["name"] != ref]


def write_edit(media, edl, sidecar_dir):
    """A hand-made 4-shot edit of ``media`` (cams by index) on their sync, as edl.json."""
    shots = [Shot(Fraction(a), Fraction(b), cam)
             for a, b, cam in ((7, 15, 0), (15, 25, 1), (25, 40, 0), (40, 50, 2))]
    sync = [load_sidecar(sidecar_path(m, sidecar_dir)) for m in media]
    write_edl_json(EditDecisions(inputs=media, shots=shots, audio_source=0, rate=Fraction(30),
                                 deltas=[s.delta_seconds for s in sync],
                                 drift_slopes=[s.drift_slope for s in sync],
                                 names=[p.stem for p in media]), edl)


def test_report_of_a_synced_shoot_with_an_edit(scenario, tmp_path):
    folder, truth = scenario("basic")
    media = media_of(folder, truth)
    sc_dir = tmp_path / "sidecars"
    sc_dir.mkdir()
    assert sync_files(media[0], media[1:], sidecar_dir=sc_dir).ok
    edl = tmp_path / "edl.json"
    write_edit(media, edl, sc_dir)
    out = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", *map(str, media), "--out", str(out),
                                    "--edl", str(edl), "--sidecar-dir", str(sc_dir), "-q"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output and res.output.count(RELIABLE) == len(media) - 1
    page = out.read_text(encoding="utf-8")

    # self-contained: every picture is an embedded PNG, nothing is fetched
    pngs = images(page)
    assert pngs and all(p.startswith(PNG) for p in pngs)
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|iframe)\b", page)
    assert re.findall(r'src="([^"]*)"', page) and all(
        s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page))

    # the shoot: coverage and the edit over speech activity
    assert "<h3>Coverage</h3>" in page and "<h3>Edit over speech activity</h3>" in page
    assert "4 shots" in page

    # one section per angle; every source shows the four plots and a reliable verdict
    secs = sections(page)
    assert len(secs) == len(media)
    assert media[0].name in secs[0] and "reference" in secs[0]
    assert "<h3>Audio streams</h3>" in secs[0]
    for path, sec in zip(media[1:], secs[1:]):
        assert path.name in sec and RELIABLE in sec
        for title in SOURCE_PLOTS:
            assert f"<h3>{title}</h3>" in sec, (path.name, title)
        assert len(images(sec)) == len(SOURCE_PLOTS)
        assert "clear peak" in sec and "No clear peak" not in sec
    assert len(pngs) == 2 + 1 + len(SOURCE_PLOTS) * (len(media) - 1)


def test_without_speech_activity_the_edit_is_drawn_over_levels(scenario, tmp_path, monkeypatch):
    folder, truth = scenario("basic")
    media = media_of(folder, truth)
    assert sync_files(media[0], media[1:], sidecar_dir=tmp_path).ok
    write_edit(media, tmp_path / "edl.json", tmp_path)
    monkeypatch.setitem(sys.modules, "polysync.activity", None)
    shoot = make_report(media, tmp_path / "r.html", edl=tmp_path / "edl.json",
                        sidecar_dir=tmp_path)
    assert shoot.edit.source == "level" and shoot.edit.level.shape[0] == len(media)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<h3>Edit over speech activity</h3>" in page and "could not be computed" in page


def test_an_unrelated_pair_says_no_reliable_match(scenario, tmp_path):
    folder, truth = scenario("unrelated")
    other = next(f["name"] for f in truth["files"] if not f["related"] and not f["special"])
    shoot = make_report([folder / truth["reference"], folder / other], tmp_path / "r.html",
                        sidecar_dir=tmp_path)  # no sidecars there: analysed on the spot
    st = shoot.angles[1]
    assert st.verdict == UNRELIABLE and st.curve is not None and not st.curve.clear
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    sec = sections(page)[1]
    assert "no reliable match" in sec.lower() and "No clear peak" in sec
    assert "<h3>Coarse correlation</h3>" in sec
    assert all(p.startswith(PNG) for p in images(sec))
    assert not re.search(r"https?://", page)


def test_a_wrong_sidecar_is_shown_as_not_confirmed(scenario, tmp_path):
    folder, truth = scenario("basic")
    media = media_of(folder, truth)
    assert sync_files(media[0], media[1:], sidecar_dir=tmp_path).ok
    path = sidecar_path(media[1], tmp_path)
    data = json.loads(path.read_text())
    data["delta_seconds"] += 0.010  # 10 ms: a lip-sync error anyone sees
    path.write_text(json.dumps(data))
    shoot = make_report(media, tmp_path / "r.html", sidecar_dir=tmp_path)
    assert [st.verdict for st in shoot.angles[1:]] == [DISAGREES, RELIABLE]
    assert abs(shoot.angles[1].check["median_residual_ms"] + 10.0) < 3.0
    assert "Offset not confirmed" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_file_without_usable_audio_gets_a_section_that_says_why(scenario, tmp_path):
    folder, truth = scenario("bad_inputs")
    silent = next(f["name"] for f in truth["files"] if f["special"] == "silent")
    shoot = make_report([folder / truth["reference"], folder / silent], tmp_path / "r.html",
                        sidecar_dir=tmp_path)
    assert shoot.angles[1].verdict == NOT_ANALYSED
    sec = sections((tmp_path / "r.html").read_text(encoding="utf-8"))[1]
    assert "silent" in sec and "Could not be analysed" in sec


def test_coarse_curve_peaks_at_the_offset_only_for_related_envelopes():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(6000).astype(np.float32)  # 60 s at 100 frames/s
    src = ref[1234:1234 + 3000] + 0.5 * rng.standard_normal(3000).astype(np.float32)
    cv = coarse_curve(ref, 0.0, src, 0.0)
    assert abs(cv.peak[0] - 12.34) < 0.011 and cv.clear and cv.ratio > 3
    other = coarse_curve(ref, 0.0, rng.standard_normal(3000).astype(np.float32), 0.0)
    assert not other.clear


def test_missing_matplotlib_is_one_clear_error(scenario, tmp_path, monkeypatch):
    folder, truth = scenario("basic")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(UsageError, match=r'pip install "polysync\[report\]"'):
        make_report(media_of(folder, truth), tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
