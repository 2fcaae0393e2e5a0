"""Speed, memory and accuracy of `polysync sync --all` on a long generated group shoot.

The shoot (generated once, cached under --out): 4 angles in 12 files over ``--minutes`` of scene
(a reference camera in 3 contiguous files, a camera with two takes of 2 files each, a phone with
three stop/start takes at -250 ppm, a WAV recorder with two takes). Measured in the same run:

* the decode floor: ffmpeg alone decoding the audio of every file
  (``ffmpeg -v error -i F -vn -f null -``), one file after another and as many at a time as
  polysync decodes;
* ``sync_group`` on the folder, in a fresh Python process (imports included, like the CLI):
  wall time, peak RSS from ``resource.getrusage`` (the process itself, and its largest decode
  worker) and the peak of the whole process tree sampled from /proc;
* every file's placement error against the generator's truth, composed to the reference polysync
  chose: ``delta = (delta_f - delta_R) / (1 + slope_R)``, ``slope = (1 + s_f) / (1 + s_R) - 1``.

Usage: ``python benchmarks/group_speed.py [--minutes 60] [--out bench-out] [--room] [--jobs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polysync.media import find_ffmpeg


def tree_rss_kb(pid: int) -> int:
    """Resident memory (kB) of ``pid`` and all its descendants, from /proc (0 elsewhere)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def cpu_children() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def decode_floor(files: list[Path], parallel: int) -> tuple[float, float]:
    """(wall, CPU) seconds ffmpeg alone takes to decode the audio of ``files``
    (``parallel`` at a time)."""
    ffmpeg = find_ffmpeg()
    cpu0 = cpu_children()

    def one(f: Path) -> None:
        subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-i", str(f), "-vn", "-f", "null",
                        "-"], check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max(1, parallel)) as pool:
        list(pool.map(one, files))
    return time.perf_counter() - t0, cpu_children() - cpu0


def shoot(minutes: float, out: Path, seed: int, room: bool) -> Path:
    """Generate (once, in a child process) the 12-file group shoot and return its folder.

    A child, because Linux carries a process's peak RSS over into the children it starts:
    the measured run must be started from a small process."""
    folder = out / f"group_{minutes:g}min_seed{seed}{'_room' if room else ''}"
    if not (folder / "truth.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        print(f"generating a {minutes:g}-minute 12-file group shoot in {folder} ...", flush=True)
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=".gen-", dir=out))
        subprocess.run([sys.executable, __file__, "--generate", str(minutes), str(seed),
                        str(int(room)), str(tmp)], check=True)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
        print(f"  generated in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


def generate(minutes: str, seed: str, room: str, folder: str) -> None:
    """Child: write the shoot into ``folder``."""
    from polysync_fixtures import generate as write
    from polysync_fixtures.group_scenarios import group_long_spec

    write(group_long_spec(float(minutes), seed=int(seed), room=room == "1"), folder)


def child(folder: str, sidecars: str, jobs: int) -> None:
    """Run in the measured process: sync the folder, print the placements and getrusage."""
    from polysync.group import sync_group

    report = sync_group([folder], sidecar_dir=sidecars, jobs=jobs or None)
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({
        "reference": report.reference.name, "pairs_compared": report.pairs_compared,
        "pairs_measured": report.pairs_measured, "pairs_used": len(report.edges),
        "pairs_dropped": len(report.dropped), "max_residual_ms": report.max_residual * 1e3,
        "cycle_residuals_ms": [r * 1e3 for _, r in report.cycle_residuals],
        "clips": [{"name": c.path.name, "angle": c.angle, "ok": c.ok, "delta": c.delta_seconds,
                   "slope": c.drift_slope, "via": c.placed_via,
                   "error": c.error.message if c.error else None} for c in report.clips],
        "angles": [{"name": s.name, "shared_drift": s.shared_drift, "joins": s.joins}
                   for s in report.angles],
        "rss_self_mb": me.ru_maxrss / 1024, "rss_children_mb": kids.ru_maxrss / 1024,
        "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime}))


def run_polysync(folder: Path, jobs: int) -> tuple[float, int, dict]:
    """One measured ``sync_group`` run: (wall s, sampled tree peak kB, the child's report)."""
    sidecars = Path(tempfile.mkdtemp(prefix="group-speed-"))
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(folder), str(sidecars),
                                 str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        tree_peak = 0
        while proc.poll() is None:
            tree_peak = max(tree_peak, tree_rss_kb(proc.pid))
            time.sleep(0.02)
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(sidecars, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"sync_group failed ({proc.returncode}):\n{stderr}")
    return wall, tree_peak, json.loads(stdout)


def bench(minutes: float, out: Path, seed: int, room: bool, jobs: int, repeat: int) -> None:
    folder = shoot(minutes, out, seed, room)
    truth = json.loads((folder / "truth.json").read_text())
    files = [folder / f["name"] for f in truth["files"]]
    audio_min = sum(f["duration"] for f in truth["files"]) / 60
    runs = []  # interleaved, so a busy machine disturbs both sides alike; best of each kept
    for _ in range(repeat):
        runs.append((decode_floor(files, 1), decode_floor(files, jobs),
                     run_polysync(folder, jobs)))
    floor_seq, floor_cpu = min(r[0] for r in runs)
    floor_par = min(r[1][0] for r in runs)
    wall, tree_peak, res = min((r[2] for r in runs), key=lambda r: r[0])
    by_name = {f["name"]: f for f in truth["files"]}
    ref = by_name[res["reference"]]

    print(f"\n== {minutes:g}-minute group shoot: {len(files)} files, 4 angles, "
          f"{audio_min:.0f} min of audio, {'room' if room else 'one mixer feed'}; best of "
          f"{repeat} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"polysync sync --all     {wall:7.2f} s wall (Python start-up included)")
    print(f"decode floor (ffmpeg)   {floor_seq:7.2f} s one file at a time  -> ratio "
          f"{wall / floor_seq:.2f}x")
    print(f"                        {floor_par:7.2f} s {jobs} at a time          -> ratio "
          f"{wall / floor_par:.2f}x")
    print(f"CPU time                {res['cpu_s']:7.2f} s polysync vs {floor_cpu:.2f} s ffmpeg "
          f"-> ratio {res['cpu_s'] / floor_cpu:.2f}x (load-independent view)")
    print(f"peak RSS                {res['rss_self_mb']:.0f} MB process + {res['rss_children_mb']:.0f}"
          f" MB largest worker = {res['rss_self_mb'] + res['rss_children_mb']:.0f} MB "
          f"(getrusage); whole tree sampled {tree_peak / 1024:.0f} MB")
    print(f"pairs                   {res['pairs_compared']} compared, {res['pairs_measured']} "
          f"sample-level, {res['pairs_used']} used, {res['pairs_dropped']} dropped; max "
          f"residual {res['max_residual_ms']:.3f} ms; cycle residuals (ms) "
          + ", ".join(f"{r:.3f}" for r in res["cycle_residuals_ms"]))
    print(f"reference               {res['reference']}")
    worst = 0.0
    for c in sorted(res["clips"], key=lambda c: (c["angle"], c["name"])):
        t = by_name[c["name"]]
        if not c["ok"]:
            print(f"  {c['angle']:<5} {c['name']:<14} NOT PLACED: {c['error']}")
            continue
        d_true = (t["delta_seconds"] - ref["delta_seconds"]) / (1 + ref["drift_slope"])
        s_true = (1 + t["drift_slope"]) / (1 + ref["drift_slope"]) - 1
        err = (c["delta"] - d_true) * 1e3
        worst = max(worst, abs(err))
        print(f"  {c['angle']:<5} {c['name']:<14} offset {c['delta']:+12.6f} s  error "
              f"{err:+7.3f} ms   drift {c['slope'] * 1e6:+8.2f} ppm  error "
              f"{(c['slope'] - s_true) * 1e6:+6.2f} ppm  via {' > '.join(c['via']) or '-'}")
    for a in res["angles"]:
        joins = ", ".join(f"{j['after']}>{j['before']} {j['gap_seconds']:+.3f} s"
                          + (" (contiguous)" if j["contiguous"] else "") for j in a["joins"])
        print(f"  angle {a['name']:<5} shared drift {a['shared_drift']!s:<5} {joins}")
    print(f"worst placement error   {worst:.3f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--room", action="store_true", help="mics in a room instead of one mixer feed")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side; the best counts")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    bench(args.minutes, args.out, args.seed, args.room, args.jobs, args.repeat)


if __name__ == "__main__":
    main()
