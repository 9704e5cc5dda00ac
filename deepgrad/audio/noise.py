"""Generated background sounds and the detection chime, in NumPy (seeded by a ``numpy`` Generator).

* ``colored_noise``: noise whose power spectrum falls as ``1 / f**exponent`` (0 white, 1 pink, 2 brown);
* ``hum``: mains hum, a fundamental (50 or 60 Hz) and its harmonics with random amplitudes and phases;
* ``babble``: other words spoken at random positions, overlapping (a room of distant talkers);
* ``background``: a random mixture of the three at a random level;
* ``chime``: a short bell (two decaying partials), what ``insert_chimes`` adds after each detection.
"""
from __future__ import annotations

import numpy as np


def rms(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of noise with power spectral density proportional to ``1 / f**exponent``, RMS 1."""
    white = rng.standard_normal(n)
    if exponent == 0:
        return (white / max(rms(white), 1e-12)).astype(np.float32)
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec = spec / f ** (exponent / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return (x / max(rms(x), 1e-12)).astype(np.float32)


def hum(n: int, rate: int, rng: np.random.Generator, fundamental: float | None = None, harmonics: int = 5) -> np.ndarray:
    """Mains hum: ``fundamental`` (50 or 60 Hz at random) and ``harmonics - 1`` overtones, RMS 1."""
    f0 = float(rng.choice([50.0, 60.0])) if fundamental is None else float(fundamental)
    t = np.arange(n) / rate
    x = np.zeros(n)
    for k in range(1, harmonics + 1):
        x += rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return (x / max(rms(x), 1e-12)).astype(np.float32)


def babble(n: int, clips, rng: np.random.Generator, talkers: int = 6) -> np.ndarray:
    """``talkers`` clips drawn from ``clips`` placed at random (wrapping around the end), RMS 1."""
    x = np.zeros(n)
    if not clips:
        return x.astype(np.float32)
    for _ in range(talkers):
        c = np.asarray(clips[int(rng.integers(len(clips)))], dtype=np.float64)[:n]
        start = int(rng.integers(n))
        idx = (start + np.arange(len(c))) % n
        x[idx] += rng.uniform(0.3, 1.0) * c
    return (x / max(rms(x), 1e-12)).astype(np.float32)


def background(n: int, rate: int, rng: np.random.Generator, babble_clips=(), level: tuple = (0.003, 0.05)) -> np.ndarray:
    """A mixture of coloured noise (exponent 0-2), hum and babble with random weights; RMS drawn
    log-uniformly from ``level``."""
    parts = [rng.uniform(0.2, 1.0) * colored_noise(n, float(rng.uniform(0.0, 2.0)), rng)]
    if rng.random() < 0.5:
        parts.append(rng.uniform(0.1, 0.7) * hum(n, rate, rng))
    if len(babble_clips) and rng.random() < 0.7:
        parts.append(rng.uniform(0.2, 1.0) * babble(n, list(babble_clips), rng, talkers=int(rng.integers(3, 10))))
    x = np.sum(parts, axis=0)
    target = float(np.exp(rng.uniform(np.log(level[0]), np.log(level[1]))))
    return (x * (target / max(rms(x), 1e-12))).astype(np.float32)


def chime(rate: int, duration: float = 0.3, freqs: tuple = (1318.5, 1975.5), amplitude: float = 0.5) -> np.ndarray:
    """A bell-like chime: partials at ``freqs`` (E6 and B6) with an exponential decay."""
    t = np.arange(int(duration * rate)) / rate
    env = np.exp(-t / (duration / 5)) * np.minimum(1.0, t / 0.005)
    x = env * sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate(freqs))
    return (amplitude * x / np.abs(x).max()).astype(np.float32)  # peak ``amplitude``
