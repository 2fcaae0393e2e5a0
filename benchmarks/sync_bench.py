"""Speed, memory and accuracy of `polysync sync` on long generated shoots.

For each length (default 10 and 60 minutes) a 3-camera shoot is generated once (cached under
bench-out/), then in the same run:

* the floor: ffmpeg alone decoding the audio of every file (``ffmpeg -i F -map 0:a -f null -``),
  one file after another, and also all files at once (as many at a time as polysync uses);
* ``polysync sync`` on the same files: wall time, peak memory of its whole process tree
  (proportional set size, so pages shared by forked workers count once);
* offset error (ms) and drift error (ppm) of every source against the generator's truth.

Usage: ``python benchmarks/sync_bench.py [--minutes 10 60] [--out bench-out]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polysync.media import find_ffmpeg


def _memory_kb(pid: int) -> int:
    """Proportional set size of ``pid`` (kB): shared library pages split among the processes
    that share them, so forked workers are not counted twice. Falls back to VmRSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kb(pid: int) -> int:
    """Memory (kB) of ``pid`` and all its descendants, from /proc (see ``_memory_kb``)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += _memory_kb(p)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(cmd: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run ``cmd``; return (wall seconds, peak memory of its process tree in MB, result)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    return wall, peak // 1024, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def floor(files: list[Path], parallel: int) -> float:
    """Seconds ffmpeg alone takes to decode the audio of ``files``."""
    ffmpeg = find_ffmpeg()

    def one(f: Path) -> None:
        subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-i", str(f), "-map", "0:a",
                        "-f", "null", "-"], check=True)

    t0 = time.perf_counter()
    if parallel <= 1:
        for f in files:
            one(f)
    else:
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(one, files))
    return time.perf_counter() - t0


def shoot(minutes: float, out: Path, seed: int) -> Path:
    """Generate (once) a 3-camera shoot of ``minutes`` and return its folder."""
    from polysync_fixtures import generate, long_shoot_spec

    folder = out / f"shoot_{minutes:g}min_seed{seed}"
    if not (folder / "truth.json").exists():
        print(f"generating a {minutes:g}-minute 3-camera shoot in {folder} ...", flush=True)
        t0 = time.perf_counter()
        generate(long_shoot_spec(minutes, n_cams=3, seed=seed, video=False), folder)
        print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def bench(minutes: float, out: Path, seed: int) -> dict:
    folder = shoot(minutes, out, seed)
    truth = json.loads((folder / "truth.json").read_text())
    ref = folder / truth["reference"]
    sources = [folder / f["name"] for f in truth["files"]
               if f["name"] != truth["reference"] and f.get("related", True)]
    for f in folder.glob("*.sync.json"):
        f.unlink()
    files = [ref, *sources]
    jobs = os.cpu_count() or 1
    floor_seq = floor(files, 1)
    floor_par = floor(files, jobs)
    wall, rss, res = run_measured([sys.executable, "-m", "polysync", "sync", "--json", "-q",
                                   str(ref), *map(str, sources)])
    if res.returncode != 0:
        print(res.stderr)
        raise SystemExit(f"polysync sync failed with exit {res.returncode}")
    report = json.loads(res.stdout)
    by_name = {f["name"]: f for f in truth["files"]}
    errors = []
    for s in report["sources"]:
        t = by_name[Path(s["path"]).name]
        errors.append({"file": Path(s["path"]).name,
                       "offset_error_ms": (s["delta_seconds"] - t["delta_seconds"]) * 1e3,
                       "drift_error_ppm": (s["drift_slope"] - t["drift_slope"]) * 1e6,
                       "true_drift_ppm": t["drift_slope"] * 1e6})
    audio_minutes = sum(by_name[f.name]["duration"] for f in files) / 60
    return {"minutes": minutes, "audio_minutes": audio_minutes, "wall_s": wall,
            "floor_seq_s": floor_seq, "floor_par_s": floor_par, "peak_rss_mb": rss,
            "ratio_seq": wall / floor_seq, "ratio_par": wall / floor_par, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for m in args.minutes:
        r = bench(m, args.out, args.seed)
        print(f"\n== {m:g}-minute 3-camera shoot ({r['audio_minutes']:.0f} min of audio)")
        print(f"polysync sync wall      {r['wall_s']:7.2f} s   peak memory {r['peak_rss_mb']} MB "
              "(PSS of the process tree)")
        print(f"ffmpeg decode floor     {r['floor_seq_s']:7.2f} s one file at a time  "
              f"-> ratio {r['ratio_seq']:.2f}x")
        print(f"                        {r['floor_par_s']:7.2f} s files in parallel     "
              f"-> ratio {r['ratio_par']:.2f}x")
        for e in r["errors"]:
            print(f"  {e['file']:<24} offset error {e['offset_error_ms']:+8.3f} ms   drift error "
                  f"{e['drift_error_ppm']:+7.3f} ppm (true {e['true_drift_ppm']:+.1f} ppm)")


if __name__ == "__main__":
    main()
