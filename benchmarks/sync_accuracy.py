"""Sync accuracy on every generated scenario against the generator's truth.

For each related source of each scenario, synced the way ``polysync sync REF SOURCES...`` does
(all related sources in one call, no sidecars written): the worst placement error over its
overlap (offset and drift together, ms), and the method that set the offset (waveform or
envelope; ``via X`` when placed through another source). Prints
the median, 90th percentile and maximum, and every file worse than half a frame at 60 fps.

Usage: ``python benchmarks/sync_accuracy.py [--seeds 0 1]``
"""

from __future__ import annotations

import argparse

import numpy as np

from polysync.sync import sync_files
from polysync_fixtures import cached_scenario, load_truth

SCENARIOS = ["basic", "wide", "hall", "partial", "short", "shared_path", "quad", "duo", "phone_drift"]


def worst_error_ms(res, delta: float, slope: float) -> float:
    """Largest distance (ms) over the result's overlap between its line and the true line
    ``t_ref = delta + t_src * (1 + slope)`` (offset and drift together)."""
    return max(abs(res.delta_seconds + t * (1 + res.drift_slope) - (delta + t * (1 + slope)))
               for t in res.overlap_in_source) * 1000.0


def errors(seed: int) -> list[tuple[str, float, str]]:
    """(scenario/file, worst error in ms or nan if refused, method) for every related source."""
    out = []
    for name in SCENARIOS:
        folder = cached_scenario(name, seed)
        truth = load_truth(folder)
        related = [f for f in truth["files"] if f["name"] != truth["reference"] and f["related"]]
        rep = sync_files(folder / truth["reference"], [folder / f["name"] for f in related],
                         write=False)
        for f, o in zip(related, rep.outcomes):
            label = f"{name}-{seed}/{f['name']}"
            if not o.ok:
                out.append((label, float("nan"), "refused"))
                continue
            res = o.result
            method = res.method + (f" via {res.via}" if res.via else "")
            out.append((label, worst_error_ms(res, f["delta_seconds"], f["drift_slope"]),
                        method))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    rows = [r for seed in args.seeds for r in errors(seed)]
    ok = np.array([e for _, e, m in rows if m != "refused"])
    print(f"{len(rows)} sources, {sum(m == 'refused' for _, _, m in rows)} refused, "
          f"{sum(m == 'envelope' for _, _, m in rows)} set by the envelope")
    print(f"worst error over the overlap: median {np.median(ok):.2f} ms, "
          f"p90 {np.percentile(ok, 90):.2f} ms, max {ok.max():.2f} ms")
    for label, err, method in rows:
        if method == "refused" or err > 8.0:
            print(f"  {label:<28} {err:7.2f} ms  {method}")


if __name__ == "__main__":
    main()
