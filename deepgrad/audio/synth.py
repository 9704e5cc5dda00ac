"""Spoken words synthesized offline with espeak-ng (``apt-get install espeak-ng``;
``scripts/get-data.sh`` installs it), cached as WAV files.

A :class:`Voice` is an espeak-ng accent (``en-us``, ``en-gb-scotland``, ...), a voice
variant (``m3``, ``f2``, ``klatt``, ...), a speed in words per minute and a pitch (0-99).
``synthesize(word, voice, rate)`` runs ``espeak-ng -v ACCENT+VARIANT -s SPEED -p PITCH -w
FILE WORD`` once, keeps the WAV in the cache folder (``$DEEPGRAD_CACHE/espeak``, else
``$XDG_CACHE_HOME/deepgrad/espeak`` or ``~/.cache/deepgrad/espeak``; nothing is committed)
and returns the samples resampled to ``rate``, with the silence espeak puts around a word
trimmed. The same arguments give the same samples (espeak-ng is deterministic), so a run
repeated on the same machine is fast and identical.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from .wav import read_wav, resample

#: espeak-ng's English accents (the ``gmw`` voices shipped with the espeak-ng package itself)
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
#: voice variants (espeak-ng-data/voices/!v) that are recognisably human, male and female
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3")


class EspeakMissing(RuntimeError):
    """espeak-ng is not installed (the message says how to install it)."""


@dataclass(frozen=True)
class Voice:
    accent: str = "en-us"
    variant: str = "m1"
    speed: int = 160  # words per minute (espeak-ng's default is 175)
    pitch: int = 50  # 0-99

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant}"

    def __str__(self) -> str:
        return f"{self.name} {self.speed}wpm pitch {self.pitch}"


def espeak_path() -> str | None:
    """The espeak-ng program, or None."""
    return shutil.which("espeak-ng")


def require_espeak() -> str:
    path = espeak_path()
    if path is None:
        raise EspeakMissing("espeak-ng is not installed: apt-get install espeak-ng (or: bash scripts/get-data.sh); "
                            "the trigger-word clips are synthesized with it")
    return path


def cache_dir() -> str:
    """Where synthesized words are kept: ``$DEEPGRAD_CACHE/espeak``, else the user cache."""
    base = os.environ.get("DEEPGRAD_CACHE")
    if base:
        return os.path.join(base, "espeak")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "deepgrad", "espeak")


_VERSION: str | None = None


def espeak_version() -> str:
    global _VERSION
    if _VERSION is None:
        out = subprocess.run([require_espeak(), "--version"], capture_output=True, text=True, check=False)
        _VERSION = out.stdout.strip() or "unknown"
    return _VERSION


def trim_silence(x: np.ndarray, rate: int, threshold: float = 0.02, margin_s: float = 0.01) -> np.ndarray:
    """``x`` without the leading and trailing stretches quieter than ``threshold`` times its peak
    (keeping ``margin_s`` seconds on each side)."""
    if len(x) == 0:
        return x
    loud = np.flatnonzero(np.abs(x) > threshold * np.abs(x).max())
    if len(loud) == 0:
        return x[:0]
    m = int(margin_s * rate)
    return x[max(0, loud[0] - m): loud[-1] + 1 + m]


def synthesize_file(text: str, voice: Voice, folder: str | None = None) -> str:
    """The cached WAV file of ``text`` spoken by ``voice`` (synthesized on first use)."""
    folder = folder or cache_dir()
    key = hashlib.sha1(repr((espeak_version(), text, voice.name, voice.speed, voice.pitch)).encode()).hexdigest()[:16]
    path = os.path.join(folder, f"{key}.wav")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".wav.part")
    os.close(fd)
    try:
        cmd = [require_espeak(), "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "-w", tmp, text]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or os.path.getsize(tmp) <= 44:
            raise RuntimeError(f"espeak-ng failed on {text!r} with voice {voice}: {proc.stderr.strip() or proc.returncode}")
        os.replace(tmp, path)  # atomic: a concurrent run sees the whole file or none
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def synthesize(text: str, voice: Voice, rate: int = 16000, folder: str | None = None) -> np.ndarray:
    """``text`` spoken by ``voice``: float32 samples at ``rate`` Hz, silence trimmed, peak 1."""
    wav = synthesize_file(text, voice, folder)
    npy = f"{wav[:-4]}-{int(rate)}.npy"  # the resampled, trimmed clip: loading it skips the FFTs
    if os.path.exists(npy):
        return np.load(npy)
    x, r = read_wav(wav)
    x = trim_silence(resample(x, r, rate), rate)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    x = (x / peak).astype(np.float32) if peak > 0 else x
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(npy), suffix=".npy.part")
    with os.fdopen(fd, "wb") as f:
        np.save(f, x)
    os.replace(tmp, npy)
    return x
