"""WAV files with the standard library's :mod:`wave`, and resampling, in NumPy.

Samples are float32 in [-1, 1] (mono). ``read_wav`` takes 8-, 16-, 24- and 32-bit PCM and
averages several channels to one; ``write_wav`` writes 16-bit PCM, clipping to [-1, 1].
"""
from __future__ import annotations

import os
import wave

import numpy as np


def read_wav(path) -> tuple[np.ndarray, int]:
    """``(samples, rate)``: mono float32 samples in [-1, 1] and the sampling rate in Hz."""
    with wave.open(os.fspath(path), "rb") as w:
        rate, width, channels, n = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
        raw = w.readframes(n)
    if width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2.0 ** 31).astype(np.float32)
    else:
        raise ValueError(f"read_wav {path}: unsupported sample width {width} bytes")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


def write_wav(path, samples, rate: int) -> None:
    """Write mono ``samples`` (floats in [-1, 1]; values beyond are clipped) as 16-bit PCM."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"write_wav {path}: expected mono samples of shape (n,), got {x.shape}")
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())


def resample(x, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by the discrete Fourier transform (as ``scipy.signal.resample``):
    keep (or zero-pad) the spectrum up to the new Nyquist frequency. Frequencies above the
    lower of the two Nyquist frequencies are removed, so downsampling does not alias."""
    x = np.asarray(x, dtype=np.float64)
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"resample: rates must be positive, got {rate_in} -> {rate_out}")
    if rate_in == rate_out or len(x) == 0:
        return x.astype(np.float32)
    n = len(x)
    m = max(1, int(round(n * rate_out / rate_in)))
    X = np.fft.rfft(x)
    k = m // 2 + 1
    Y = np.zeros(k, dtype=complex)
    keep = min(k, len(X))
    Y[:keep] = X[:keep]
    if n % 2 == 0 and m > n:  # the old Nyquist bin splits between +-f in the longer spectrum
        Y[n // 2] *= 0.5
    return (np.fft.irfft(Y, m) * (m / n)).astype(np.float32)
