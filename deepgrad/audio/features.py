"""Spectrograms in NumPy: the short-time Fourier transform (PyTorch's ``torch.stft``
conventions), power and log spectrograms, and log-mel features.

``stft(x, n_fft, hop_length)`` frames the signal (centred frames with reflect padding by
default, as ``torch.stft(center=True)``), multiplies each frame by the window (Hann by
default, the periodic one as ``torch.hann_window``) and takes the one-sided DFT: an array
of shape ``(..., n_fft // 2 + 1, frames)``. The course's ``graph_spectrogram`` is
matplotlib's ``specgram`` of 10 s at 44.1 kHz with 200-sample windows (101 frequencies,
5511 frames); ``log_mel_spectrogram`` gives the compact features the trigger-word model
here reads.
"""
from __future__ import annotations

import numpy as np


def hann_window(n: int, periodic: bool = True) -> np.ndarray:
    """The Hann window; ``periodic`` (the default, as ``torch.hann_window``) for spectral analysis."""
    if n <= 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    d = n if periodic else n - 1
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / d)


def frame_count(n_samples: int, n_fft: int, hop_length: int, center: bool = True) -> int:
    """The number of frames ``stft`` makes of ``n_samples`` samples."""
    total = n_samples + (2 * (n_fft // 2) if center else 0)
    if total < n_fft:
        raise ValueError(f"stft: {n_samples} samples are shorter than n_fft={n_fft}" + (" (center=True)" if center else ""))
    return 1 + (total - n_fft) // hop_length


def stft(x, n_fft: int, hop_length: int | None = None, win_length: int | None = None, window=None,
         center: bool = True, pad_mode: str = "reflect") -> np.ndarray:
    """Short-time Fourier transform of ``x`` (shape ``(..., n)``), ``(..., n_fft // 2 + 1, frames)`` complex.

    As ``torch.stft(x, n_fft, hop_length, win_length, window, center, pad_mode, onesided=True,
    return_complex=True)``: ``hop_length`` defaults to ``n_fft // 4``, a window shorter than
    ``n_fft`` is zero-padded on both sides to ``n_fft``, and frame ``t`` is
    ``X[f, t] = sum_k w[k] x[t * hop + k] exp(-2 pi i f k / n_fft)`` of the (padded) signal.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    if n_fft <= 0 or hop <= 0:
        raise ValueError(f"stft: n_fft and hop_length must be positive, got {n_fft}, {hop}")
    win_length = n_fft if win_length is None else int(win_length)
    w = hann_window(win_length) if window is None else np.asarray(window, dtype=np.float64)
    if w.shape != (win_length,):
        raise ValueError(f"stft: window of shape {w.shape}, expected ({win_length},)")
    if win_length > n_fft:
        raise ValueError(f"stft: win_length {win_length} > n_fft {n_fft}")
    left = (n_fft - win_length) // 2
    w = np.pad(w, (left, n_fft - win_length - left))
    if center:
        p = n_fft // 2
        pad = [(0, 0)] * (x.ndim - 1) + [(p, p)]
        if pad_mode == "reflect" and x.shape[-1] <= p:
            raise ValueError(f"stft: reflect padding of {p} needs more than {p} samples, got {x.shape[-1]}")
        x = np.pad(x, pad, mode=pad_mode)  # type: ignore[call-overload]  # pad_mode: any of np.pad's modes
    frame_count(x.shape[-1], n_fft, hop, center=False)  # raises when too short
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]
    spec = np.fft.rfft(frames * w.astype(x.dtype), axis=-1)  # (..., frames, freq)
    return np.swapaxes(spec, -1, -2)


def power_spectrogram(x, n_fft: int, hop_length: int | None = None, **kw) -> np.ndarray:
    """``|stft(x)|**2``, shape ``(..., n_fft // 2 + 1, frames)``."""
    s = stft(x, n_fft, hop_length, **kw)
    return s.real ** 2 + s.imag ** 2


def hz_to_mel(f):
    """The HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, rate: int, f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:
    """Triangular filters equally spaced on the HTK mel scale, ``(n_mels, n_fft // 2 + 1)``
    (``torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale="htk")`` transposed):
    filter ``m`` rises from mel point ``m`` to 1 at point ``m + 1`` and falls to 0 at ``m + 2``."""
    f_max = rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= rate / 2:
        raise ValueError(f"mel_filterbank: need 0 <= f_min < f_max <= rate/2, got {f_min}, {f_max}, rate {rate}")
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    pts = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lo, mid, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel_spectrogram(x, rate: int, n_fft: int = 400, hop_length: int = 160, n_mels: int = 40,
                        f_min: float = 20.0, f_max: float | None = None, eps: float = 1e-6) -> np.ndarray:
    """``log(mel_filterbank @ |stft(x)|**2 + eps)``, float32 of shape ``(..., n_mels, frames)``
    (defaults: 25 ms windows every 10 ms at 16 kHz, 40 mel bands from 20 Hz to Nyquist)."""
    p = power_spectrogram(np.asarray(x, dtype=np.float64), n_fft, hop_length)
    fb = mel_filterbank(n_mels, n_fft, rate, f_min, f_max)
    return np.log(np.einsum("mf,...ft->...mt", fb, p) + eps).astype(np.float32)
