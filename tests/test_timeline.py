"""The OTIO timeline contract: structure, exact frame grid, drift per cut, reading back.

Media are tiny synthetic shoots (tests/timeline_media.py, the ``shoots`` fixture in conftest.py):
no real sync is needed to test export.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from polysync.decisions import EditDecisions, Shot, snap
from polysync.session import load_angles
from polysync.timeline import (PIP_TRANSFORM, build_timeline, decisions_from_timeline,
                               file_url, frames_timecode, media_grid, media_rate, role_track,
                               timecode_frames, timeline_from_file)
from timeline_media import (FAST_DRIFT, RATES, assert_on_grid, clip_items, make_wav,
                            write_sidecar)


# -- timecode and rates -----------------------------------------------------------------------

def test_timecode_drop_and_non_drop_frame():
    ntsc, ntsc60 = F(30000, 1001), F(60000, 1001)
    assert timecode_frames("01:00:00;00", ntsc) == 107892
    assert timecode_frames("01:00:00:00", ntsc) == 108000
    assert timecode_frames("00:01:00;02", ntsc) == 1800
    assert timecode_frames("01:00:00;00", ntsc60) == 215784
    assert timecode_frames("10:00:00:00", F(25)) == 900000
    assert timecode_frames("01:00:00:00", F(24000, 1001)) == 86400
    for n in range(0, 400000, 997):
        for r in (ntsc, ntsc60):
            assert timecode_frames(frames_timecode(n, r, True), r) == n
            assert timecode_frames(frames_timecode(n, r, False), r) == n
    assert frames_timecode(17982, ntsc, True) == "00:10:00;00"
    assert otio.opentime.to_timecode(otio.opentime.RationalTime(12345, float(ntsc)),
                                     float(ntsc)) == frames_timecode(12345, ntsc, True)


def test_media_rate_snaps_phone_rates_to_exact_ones():
    assert media_rate(F(1378500, 46003)) == F(30000, 1001)  # 29.966 fps average of a phone clip
    assert media_rate(F(2997, 100)) == F(30000, 1001)
    assert media_rate(F(25)) == F(25)
    assert media_rate(F(15)) == F(15)
    assert media_rate(None) is None


# -- synced angles ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(RATES))
def test_angles_timeline_contract(shoots, name):
    shoot = shoots(name)
    rate, tc = RATES[name]
    angles = load_angles(shoot.files)
    tl = build_timeline(angles)
    meta = tl.metadata["polysync"]
    assert meta["kind"] == "angles" and meta["rate"] == f"{rate.numerator}/{rate.denominator}"
    # The recorder starts 0.2511 s before the reference: the origin is that, floored to a frame.
    origin = F(meta["origin"])
    assert origin == F(int(np.floor(-0.2511 * rate)), 1) / rate
    assert meta["origin_seconds"] == float(origin)
    assert meta["reference"] == str(shoot.files[0])
    assert meta["audio_source"] == 0 and meta["wide"] is None
    assert meta["drop_frame"] == (name in ("29.97DF", "59.94"))
    assert [a["name"] for a in meta["angles"]] == ["CAM_A", "CAM_B", "REC"]
    for a in meta["angles"]:
        assert set(a) >= {"index", "name", "path", "delta_seconds", "drift_slope", "audio_stream",
                          "fps", "duration"}
    assert meta["angles"][2]["fps"] is None and meta["angles"][1]["drift_slope"] == 3e-5
    saved = json.loads(otio.adapters.write_to_string(tl))["metadata"]["polysync"]
    assert saved["origin"] == meta["origin"] and saved["angles"][1]["name"] == "CAM_B"

    kinds = [(t.kind, t.name, t.enabled) for t in tl.tracks]
    assert kinds == [("Audio", "CAM_A", True), ("Audio", "CAM_B", False), ("Audio", "REC", False),
                     ("Video", "CAM_A", True), ("Video", "CAM_B", True)]
    assert_on_grid(tl, rate)
    video_a = tl.tracks[3]
    (k, clip), = clip_items(video_a)
    assert isinstance(video_a[0], otio.schema.Gap) and k == 1
    # The reference sits at -origin, from its first frame, which carries its start timecode.
    assert video_a.range_of_child_at_index(1).start_time.value == -origin * rate
    ref = clip.media_reference
    assert ref.target_url == shoot.files[0].as_uri()
    tc_frames = timecode_frames(tc, rate) if tc else 0
    assert ref.available_range.start_time.value == tc_frames
    assert ref.available_range.duration.value == round(2 * rate)
    assert ref.available_range.start_time.rate == float(rate)
    assert clip.source_range.start_time.value == tc_frames
    assert clip.metadata["polysync"] == {"cam": 0}
    # The recorder (audio only) lives on its own sample grid, starting within the first frame.
    rec = tl.tracks[2]
    (k, clip), = clip_items(rec)
    assert rec.range_of_child_at_index(k).start_time.value in (0, 1)
    assert clip.source_range.start_time.rate == 48000
    # Camera B starts 0.4137 s into the reference: its first frame sits at the frame whose
    # instant is nearest, the sync error stays under half a frame of either grid.
    b = tl.tracks[4]
    pos = b.range_of_child_at_index(1).start_time.value
    src = clip_items(b)[0][1].source_range.start_time.value
    t_ref = float(origin) + pos / float(rate)
    t_src = src / float(rate)
    assert abs(0.4137 + t_src * (1 + 3e-5) - t_ref) <= 0.5 / float(rate) + 1e-9


def test_mixed_rates_stay_on_each_grid(shoots):
    shoot = shoots("mixed")
    tl = build_timeline(load_angles(shoot.files))
    assert tl.metadata["polysync"]["angles"][1]["fps"] == "25/1"
    assert_on_grid(tl, F(30000, 1001))
    b = next(t for t in tl.tracks if t.kind == "Video" and t.name == "CAM_B")
    clip = clip_items(b)[0][1]
    assert clip.source_range.start_time.rate == 25
    assert clip.source_range.duration.rate == float(F(30000, 1001))
    # --rate: the same shoot on a 25 fps timeline
    tl25 = build_timeline(load_angles(shoot.files), rate="25")
    assert_on_grid(tl25, F(25))


def test_drifting_angles_are_reanchored_piece_by_piece(shoots):
    """Played at its nominal rate a drifting clock slips; each angle is cut where the slip
    reaches half a timeline frame and each piece starts on the drift model again, so at every
    timeline frame the angle shows its drift model's instant to within half a timeline frame
    plus half a media frame (the rounding of an in-point)."""
    shoot = shoots("drift")
    angles = load_angles(shoot.files)
    tl = build_timeline(angles)
    R = F(tl.metadata["polysync"]["rate"])
    assert_on_grid(tl, R)
    origin = F(tl.metadata["polysync"]["origin"])
    for track in tl.tracks:
        cam = track.metadata["polysync"]["cam"]
        g = media_grid(angles[cam], R)
        delta, slope = (F(x) for x in FAST_DRIFT["ABR"[cam]])
        clips = clip_items(track)
        bound = 1 / (2 * g.rate) + 1 / (2 * R * (1 - abs(slope)))

        def error(p, start_frame, start_source):
            shown = g.t0 + start_source / g.rate + F(p - start_frame) / R
            return abs(shown - (origin + F(p) / R - delta) / (1 + slope))

        pieces = []
        for k, clip in clips:
            span = track.range_of_child_at_index(k)
            p0, n = round(span.start_time.value), round(span.duration.value)
            source = round(clip.source_range.start_time.value) - g.tc_start
            pieces.append((p0, n, source))
            assert error(p0, p0, source) <= bound and error(p0 + n - 1, p0, source) <= bound
        assert all(a[0] + a[1] == b[0] for a, b in zip(pieces, pieces[1:]))  # they abut
        span_frames = pieces[-1][0] + pieces[-1][1] - pieces[0][0]
        if slope == 0:
            assert len(pieces) == 1
        else:
            assert len(pieces) >= span_frames // math.floor(1 / (2 * abs(slope)))
            # one clip played on from the first in-point would have slipped out of sync
            p0, _, source = pieces[0]
            assert error(p0 + span_frames - 1, p0, source) > bound


def test_explicit_rate_and_audio_only_shoot(tmp_path):
    rec = tmp_path / "only.wav"
    make_wav(rec, 1.0)
    write_sidecar(rec, rec, 0.0, 0.0)
    tl = build_timeline(load_angles([rec]))
    assert tl.metadata["polysync"]["rate"] == "30/1"  # no video anywhere: 30
    assert [t.kind for t in tl.tracks] == ["Audio"]
    assert_on_grid(tl, F(30))


# -- auto-edits -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["23.976", "25", "29.97DF", "59.94", "mixed"])
def test_edit_timeline_contract(shoots, name):
    shoot = shoots(name)
    rate = shoot.rate
    tl = timeline_from_file(shoot.edl)
    meta = tl.metadata["polysync"]
    assert meta["kind"] == "edit" and meta["audio_source"] == 2
    origin = F(meta["origin"])
    assert origin == snap(0.45, rate)
    assert_on_grid(tl, rate)
    names = [(t.kind, t.name) for t in tl.tracks]
    assert names[-1] == ("Video", "Program") and names[-2] == ("Video", "PiP")
    assert ("Audio", "Program audio") in names
    assert not any(t.enabled for t in tl.tracks if t.kind == "Audio" and t.name != "Program audio")
    program, pip = role_track(tl, "program"), role_track(tl, "pip")
    dec = decisions_from_timeline(tl)
    angles = load_angles(shoot.files)
    for (k, clip), shot in zip(clip_items(program), dec.shots):
        cam = angles[shot.cam]
        fps = media_rate(cam.fps)
        tc = clip.media_reference.available_range.start_time.value
        # The in-point is the drift model at the shot's start, on the media's frame grid.
        expected = int(np.floor((F(cam.to_src(float(shot.start))) - F(cam.info.video.start))
                                * fps + F(1, 2)))
        assert clip.source_range.start_time.value - tc == expected
        assert clip.metadata["polysync"] == {"cam": shot.cam, "pip": shot.pip}
        span = program.range_of_child_at_index(k)
        assert origin + F(int(span.start_time.value)) / rate == shot.start
        assert span.duration.value == (shot.end - shot.start) * rate
    insets = clip_items(pip)
    assert [c.metadata["polysync"]["cam"] for _, c in insets] == [0, 1]
    assert insets[0][1].metadata["polysync"]["pip_transform"] == PIP_TRANSFORM
    assert isinstance(pip[0], otio.schema.Gap)
    # Program audio: the recorder, over the whole program, drift-corrected per cut.
    sound = role_track(tl, "program_audio")
    assert sound.duration() == program.duration()
    assert all(c.media_reference.target_url == shoot.files[2].as_uri()
               for _, c in clip_items(sound))


def test_decisions_round_trip_through_otio(shoots, tmp_path):
    shoot = shoots("29.97DF")
    from polysync.decisions import read_edl_json

    dec = read_edl_json(shoot.edl)
    tl = build_timeline(load_angles(shoot.files), dec)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    back = decisions_from_timeline(timeline_from_file(path))
    assert [(s.start, s.end, s.cam, s.pip) for s in back.shots] == \
        [(s.start, s.end, s.cam, s.pip) for s in dec.shots]
    assert back.rate == dec.rate and back.audio_source == 2
    assert [p.resolve() for p in back.inputs] == [p.resolve() for p in dec.inputs]
    assert back.drift_slopes == dec.drift_slopes
    # Re-timing a saved timeline rebuilds it from its media at the new rate.
    tl25 = timeline_from_file(path, rate=25)
    assert tl25.metadata["polysync"]["rate"] == "25/1"
    assert_on_grid(tl25, F(25))
    assert len(clip_items(role_track(tl25, "program"))) == 3


def test_angles_before_the_edit_are_trimmed(shoots):
    shoot = shoots("25")
    tl = timeline_from_file(shoot.edl)
    for track in tl.tracks:
        if (track.metadata["polysync"]["role"]) == "angle" and track.name == "REC":
            (k, clip), = clip_items(track)
            assert k == 0  # starts at the edit's first frame, trimmed in source_range
            # The edit starts 0.44 s into the reference: 0.6911 s into the recorder.
            expected = (float(snap(0.45, F(25))) + 0.2511) / (1 - 2e-5)
            assert abs(clip.source_range.start_time.value / 48000 - expected) <= 0.5 / 48000
    assert tl.duration().value == (snap(1.9, F(25)) - snap(0.45, F(25))) * 25


def test_urls_are_absolute_and_percent_encoded(shoots):
    shoot = shoots("special")
    tl = build_timeline(load_angles(shoot.files))
    urls = {c.media_reference.target_url for t in tl.tracks for _, c in clip_items(t)}
    assert urls == {file_url(p) for p in shoot.files}
    for url in urls:
        assert url.startswith("file:///") and " " not in url and "#" not in url
        assert all(ord(ch) < 128 for ch in url)
    from urllib.parse import unquote, urlparse

    assert {Path(unquote(urlparse(u).path)) for u in urls} == set(shoot.files)


def test_bad_edits_are_usage_errors(shoots):
    from polysync.errors import UsageError

    shoot = shoots("30")
    angles = load_angles(shoot.files)
    dec = EditDecisions(inputs=shoot.files, shots=[Shot(F(0), F(1), 5)], audio_source=0,
                        rate=F(30))
    with pytest.raises(UsageError, match="angle 5"):
        build_timeline(angles, dec)
    dec.shots = []
    with pytest.raises(UsageError, match="no shots"):
        build_timeline(angles, dec)


def test_adapters_are_registered_plugins(shoots, tmp_path):
    names = {a.name for a in otio.plugins.ActiveManifest().adapters}
    assert {"polysync_fcpxml", "polysync_fcp7xml", "cmx_3600"} <= names
    tl = build_timeline(load_angles(shoots("25").files))
    out = tmp_path / "x.fcpxml"
    otio.adapters.write_to_file(tl, str(out), adapter_name="polysync_fcpxml")
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    otio.adapters.write_to_file(tl, str(tmp_path / "x.xml"), adapter_name="polysync_fcp7xml")
    assert "<xmeml" in (tmp_path / "x.xml").read_text(encoding="utf-8")
