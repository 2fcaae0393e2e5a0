"""Choosing the live sound in a file: pure numpy over decoded tracks.

A file may hold several audio streams (pro cameras often leave track 1 dead, recorders write
four) and a stereo stream may have a dead or polarity-inverted channel (so a plain L+R mix can
cancel). Every stream is turned into one or more mono *candidates*, each judged on the whole
recording by :func:`polysync.align.activity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Optional

import numpy as np

from .align import activity, envelope_feature, speech_envelope


@dataclass
class Candidate:
    """One mono signal a file offers for alignment."""

    audio_stream: int  # ordinal among the file's audio streams
    channel: str  # "mono", "L+R", "L-R", "L", "R" or "chN"
    t0: float
    rate: int
    signal: np.ndarray = field(repr=False)  # 1-D float16 or float32
    env_db: np.ndarray = field(repr=False)
    stats: dict = field(default_factory=dict)
    _feature: np.ndarray = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return bool(self.stats.get("alive"))

    @property
    def feature(self) -> np.ndarray:
        if self._feature is None:
            self._feature = envelope_feature(self.env_db)
        return self._feature

    @property
    def duration(self) -> float:
        return len(self.signal) / self.rate

    def label(self) -> str:
        return f"a:{self.audio_stream}" + ("" if self.channel in ("mono", "L+R") else f" {self.channel}")


def _corr(a: np.ndarray, b: np.ndarray, block: int = 1 << 20) -> float:
    """Pearson correlation of two long float16 arrays, computed in blocks."""
    sab = saa = sbb = 0.0
    for i in range(0, len(a), block):
        x = a[i: i + block].astype(np.float64)
        y = b[i: i + block].astype(np.float64)
        sab += float(x @ y)
        saa += float(x @ x)
        sbb += float(y @ y)
    return sab / np.sqrt(saa * sbb) if saa > 0 and sbb > 0 else 0.0


def candidates_for_track(samples: np.ndarray, rate: int, t0: float, audio_stream: int,
                         mixed: Optional[str] = None) -> list[Candidate]:
    """Mono candidates of one stream. ``samples``: (channels, n) at ``rate``; a stereo mix
    overwrites ``samples[0]``.

    Mono streams give one candidate (so does a stereo pair the decoder already ``mixed``,
    labelled "L+R" or "L-R"); a stereo pair gives the fitting mix (L+R, or L-R when one
    side is inverted) or its one live side; streams of 3+ channels give one per channel
    (recorders put a different mic on each).
    """
    n_ch = samples.shape[0]

    def make(sig: np.ndarray, name: str) -> Candidate:
        env = speech_envelope(sig, rate)
        return Candidate(audio_stream, name, t0, rate, sig, env, activity(env))

    if n_ch == 1:
        return [make(samples[0], mixed or "mono")]
    if n_ch == 2:
        left, right = make(samples[0], "L"), make(samples[1], "R")
        if left.alive != right.alive:
            return [left if left.alive else right]
        if not left.alive:
            return [left]
        r = _corr(samples[0], samples[1])
        if abs(r) < 0.2:  # two different mics (spaced pair): offer both
            return [left, right]
        sign = 1.0 if r >= 0 else -1.0
        # Mixed in place into the left row, in blocks: an hours-long file gets no second
        # full-length buffer (the decoder's array is ours to overwrite).
        mix = samples[0]
        block = 1 << 20
        for i in range(0, len(mix), block):
            mix[i: i + block] = (samples[0, i: i + block].astype(np.float32)
                                 + sign * samples[1, i: i + block].astype(np.float32)) * 0.5
        return [make(mix, "L+R" if sign > 0 else "L-R")]
    return [make(samples[c], f"ch{c}") for c in range(n_ch)]


def rank(cands: list[Candidate]) -> list[Candidate]:
    """Live candidates first, the most dynamic (speech-like) first among them."""
    return sorted(cands, key=lambda c: (not c.alive, -c.stats.get("spread", 0.0)))
