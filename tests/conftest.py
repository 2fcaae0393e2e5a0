"""Shared test helpers: generated fixture sets (built once, cached) and file snapshots."""

import hashlib
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from polysync_fixtures import cached_scenario, load_truth
from timeline_media import FAST_DRIFT, RATES, Shoot, make_shoot


def snapshot(folder: Path) -> dict:
    """Every file's (sha256, mtime_ns) below ``folder``, to prove originals are untouched."""
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="session")
def scenario():
    """``scenario(name) -> (folder, truth)`` of a generated set (read-only: copy before writing)."""

    def get(name: str, seed: int = 0):
        folder = cached_scenario(name, seed=seed)
        return folder, load_truth(folder)

    return get


@pytest.fixture
def scenario_copy(scenario, tmp_path):
    """``scenario_copy(name) -> (folder, truth)``: a private copy the test may write into."""

    def get(name: str, seed: int = 0):
        folder, truth = scenario(name, seed)
        dest = tmp_path / name
        shutil.copytree(folder, dest)
        return dest, truth

    return get


def truth_file(truth: dict, name: str) -> dict:
    return next(f for f in truth["files"] if f["name"] == name)


@pytest.fixture(scope="session")
def shoots(tmp_path_factory):
    """``shoots(name) -> Shoot``, built once per rate name of RATES (and "special", "mixed")."""
    cache: dict[str, Shoot] = {}

    def get(name: str) -> Shoot:
        if name not in cache:
            folder = tmp_path_factory.mktemp("shoot")
            if name == "special":  # spaces, '#', '%' and non-ASCII in folder and file names
                cache[name] = make_shoot(folder / "dossier #2 100% été", Fraction(30000, 1001),
                                         "01:00:00;00",
                                         names=("CAM A #1 é.mp4", "B%20 100%.mov", "récit.wav"))
            elif name == "mixed":  # camera B at 25 fps in a 29.97 shoot
                cache[name] = make_shoot(folder, Fraction(30000, 1001), "01:00:00;00",
                                         rate_b=Fraction(25))
            elif name == "mixed5994":  # camera B at 59.94 fps in a 25 fps shoot
                cache[name] = make_shoot(folder, Fraction(25), "10:00:00:00",
                                         rate_b=Fraction(60000, 1001), seconds=20.0)
            elif name == "drift":  # 6 s of clocks drifting by 1%, camera B at 25 fps in 29.97
                cache[name] = make_shoot(folder, Fraction(30000, 1001), None,
                                         rate_b=Fraction(25), sync=FAST_DRIFT, seconds=6.0)
            else:
                cache[name] = make_shoot(folder, *RATES[name])
        return cache[name]

    return get
