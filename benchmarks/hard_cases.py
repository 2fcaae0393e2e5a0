"""Two hard cases for `polysync sync`, on the generated ``short`` sets (a 60 s reference camera and
a 20 s mp3 from a recorder's built-in mic on the table):

* unrelated: every seed's reference against every other seed's recorder excerpt (the same
  voices and the same kind of room, another conversation). Any placement is a failure.
* shorter excerpts: 9, 10, 12 and 15 s cut by ffmpeg from the start and from the end of each
  recorder file. Printed per cut: the error against the clock truth, and the method and window
  agreement the sidecar reports. Sound is placed where it is heard, so an excerpt carries the
  path difference of whoever talks in it (up to about 5 ms here, see ``propagation_ms`` in
  truth.json); errors beyond that are misplacements.

Usage: ``python benchmarks/hard_cases.py [--seeds 0 1 2 3 4 5]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import tempfile
from pathlib import Path

from polysync.media import find_ffmpeg
from polysync.sidecar import sidecar_path
from polysync.sync import sync_files
from polysync_fixtures import cached_scenario, load_truth

CUTS = (9.0, 10.0, 12.0, 15.0)


def unrelated(folders: dict[int, Path]) -> None:
    placed = tried = 0
    for i, j in itertools.permutations(folders, 2):
        ti, tj = load_truth(folders[i]), load_truth(folders[j])
        sources = [folders[j] / f["name"] for f in tj["files"] if f["name"] != tj["reference"]]
        with tempfile.TemporaryDirectory() as tmp:
            rep = sync_files(folders[i] / ti["reference"], sources, sidecar_dir=tmp)
            for o in rep.outcomes:
                tried += 1
                if o.ok or sidecar_path(o.path, tmp).exists():
                    placed += 1
                    print(f"  PLACED: seed {i} reference, seed {j} {o.path.name}")
    print(f"unrelated pairs: {placed} placed or given a sidecar, of {tried} (must be 0)")


def excerpts(folders: dict[int, Path]) -> None:
    ffmpeg = find_ffmpeg()
    errors = []
    refused = 0
    for seed, folder in folders.items():
        truth = load_truth(folder)
        rec = next(f for f in truth["files"] if f["name"] != truth["reference"])
        with tempfile.TemporaryDirectory() as tmp:
            for length in CUTS:
                for start in (0.0, rec["duration"] - length):
                    cut = Path(tmp) / f"cut{length:g}_{start:g}.wav"
                    subprocess.run([ffmpeg, "-v", "error", "-ss", f"{start}", "-t", f"{length}",
                                    "-i", str(folder / rec["name"]), str(cut)], check=True)
                    out = sync_files(folder / truth["reference"], [cut],
                                     sidecar_dir=tmp).outcomes[0]
                    where = f"seed {seed} {length:4g} s from {start:4.1f} s"
                    if not out.ok:
                        refused += 1
                        print(f"  {where}: refused ({str(out.error).split(': ', 1)[-1][:70]})")
                        continue
                    sc = json.loads(Path(out.sidecar).read_text())
                    true = rec["delta_seconds"] + start * (1.0 + rec["drift_slope"])
                    err = (sc["delta_seconds"] - true) * 1000.0
                    q = sc["quality"]
                    errors.append(abs(err))
                    print(f"  {where}: {err:+6.2f} ms  {q['method']:8s} "
                          f"{q['agreeing']}/{q['windows']} windows")
    errors.sort()
    if errors:
        print(f"excerpts: {len(errors)} placed, {refused} refused; |error| median "
              f"{errors[len(errors) // 2]:.2f} ms, max {errors[-1]:.2f} ms, "
              f"{sum(e > 8.0 for e in errors)} over 8 ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4, 5])
    args = ap.parse_args(argv)
    folders = {s: cached_scenario("short", s) for s in args.seeds}
    unrelated(folders)
    excerpts(folders)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
