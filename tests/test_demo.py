"""`polysync demo`: the whole pipeline on a synthetic shoot, every landed step for real."""

import importlib
import sys

import pytest
from click.testing import CliRunner

from polysync import demo as demo_mod
from polysync.cli import main
from polysync.errors import UsageError
from polysync.sidecar import load_sidecar, sidecar_path
from polysync_fixtures import load_truth

# step -> (module, function the demo calls, files it must write)
LANDED = {
    "edit": ("edit", "build_edit", ["edl.json"]),
    "export": ("export", "export_timeline",
               ["timeline.otio", "timeline.fcpxml", "timeline.xml", "timeline.edl"]),
    "preview": ("render", "render", ["preview.mp4"]),
    "report": ("report", "make_report", ["report.html"]),
}


def has_api(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(f"polysync.{module}"), name)
    except ModuleNotFoundError:
        return False


def test_demo_runs_every_landed_step(tmp_path):
    folder = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", str(folder)])
    out = res.output
    assert res.exit_code == 0, out
    assert "FAILED" not in out and "done in" in out

    # sync: a sidecar per file, offsets within 5 ms of the generator's truth
    media = folder / "media"
    truth = load_truth(media)
    related = [f for f in truth["files"] if f["related"]]
    assert len(related) == 3
    for f in related:
        sc = load_sidecar(sidecar_path(media / f["name"]))
        assert abs(sc.delta_seconds - f["delta_seconds"]) <= 0.005, f["name"]
        if f["name"] != truth["reference"]:
            assert sc.verification and sc.verification["passed"], f["name"]  # verify ran
    assert "[2/7] sync" in out and "[3/7] verify" in out and "2 of 2 PASS" in out

    # each landed step wrote its files; each missing one said it was skipped
    for step, (module, fn, files) in LANDED.items():
        line = next(ln for ln in out.splitlines() if ln.startswith("[") and f"] {step} " in ln)
        if has_api(module, fn):
            assert "skipped" not in line, line
            for name in files:
                assert (folder / name).stat().st_size > 0, name
        else:
            assert "skipped:" in line and f"polysync.{module}" in line, line
            assert not any((folder / name).exists() for name in files)


def test_demo_refuses_a_folder_holding_other_files(tmp_path):
    (tmp_path / "thesis.docx").write_text("precious")
    res = CliRunner().invoke(main, ["demo", str(tmp_path)])
    assert res.exit_code == 2 and "not empty" in res.output
    assert (tmp_path / "thesis.docx").read_text() == "precious"


def test_a_new_run_clears_only_the_previous_demo(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "truth.json").write_text("{}")
    (tmp_path / "edl.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    media = demo_mod._prepare(tmp_path)
    assert media.is_dir() and not any(media.iterdir())
    assert not (tmp_path / "edl.json").exists() and (tmp_path / "notes.txt").exists()


def test_a_missing_module_is_skipped_not_faked(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "polysync.render", None)
    with pytest.raises(demo_mod.Skipped, match="polysync.render has not landed"):
        demo_mod.run_preview(tmp_path / "edl.json", tmp_path / "preview.mp4")
    assert not (tmp_path / "preview.mp4").exists()


def test_an_unknown_scenario_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        demo_mod.run_demo(tmp_path / "d", scenario="nope")
