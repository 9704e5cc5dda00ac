"""deepgrad.audio: the STFT against a direct DFT and torch.stft, the mel filterbank, WAV round trip, resampling."""
from __future__ import annotations

import numpy as np
import pytest

from deepgrad.audio import features as A
from deepgrad.audio.wav import read_wav, resample, write_wav


def direct_stft(x, n_fft, hop, window, center=True):
    """X[f, t] = sum_k w[k] x[t*hop + k] exp(-2 pi i f k / n_fft), written out as sums."""
    if center:
        x = np.pad(x, n_fft // 2, mode="reflect")
    frames = 1 + (len(x) - n_fft) // hop
    k = np.arange(n_fft)
    out = np.empty((n_fft // 2 + 1, frames), complex)
    for t in range(frames):
        seg = x[t * hop: t * hop + n_fft] * window
        for f in range(n_fft // 2 + 1):
            out[f, t] = np.sum(seg * np.exp(-2j * np.pi * f * k / n_fft))
    return out


@pytest.mark.parametrize("center", [True, False])
def test_stft_equals_the_direct_dft(center):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(203)
    got = A.stft(x, 32, 10, center=center)
    want = direct_stft(x, 32, 10, A.hann_window(32), center)
    assert got.shape == want.shape == (17, A.frame_count(203, 32, 10, center))
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_stft_of_a_sine_peaks_at_its_frequency():
    rate, f0 = 8000, 1000.0
    x = np.sin(2 * np.pi * f0 * np.arange(4000) / rate)
    p = A.power_spectrogram(x, 256, 64)
    assert np.all(np.argmax(p[:, 2:-2], axis=0) == round(f0 * 256 / rate))


def test_stft_matches_torch_stft():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1000))
    for n_fft, hop, win, center in [(64, 16, None, True), (400, 160, None, True), (64, 20, 48, True), (50, 7, None, False)]:
        w = A.hann_window(win or n_fft)
        got = A.stft(x, n_fft, hop, win_length=win, center=center)
        want = torch.stft(torch.from_numpy(x), n_fft, hop, win_length=win, window=torch.from_numpy(w), center=center,
                          pad_mode="reflect", onesided=True, return_complex=True).numpy()
        assert got.shape == want.shape, (n_fft, hop, win)
        np.testing.assert_allclose(got, want, atol=1e-9)
    np.testing.assert_allclose(A.hann_window(400), torch.hann_window(400, dtype=torch.float64).numpy(), atol=1e-15)


def test_stft_errors_name_the_problem():
    with pytest.raises(ValueError, match="shorter than n_fft"):
        A.stft(np.zeros(10), 64, 16, center=False)
    with pytest.raises(ValueError, match="window of shape"):
        A.stft(np.zeros(100), 32, 8, window=np.ones(16))


def test_mel_filterbank_triangles():
    fb = A.mel_filterbank(10, 512, 16000)
    assert fb.shape == (10, 257) and fb.min() >= 0 and fb.max() <= 1
    peaks = fb.argmax(axis=1)
    assert np.all(np.diff(peaks) > 0)  # centres increase
    centres = A.mel_to_hz(np.linspace(0, A.hz_to_mel(8000), 12))[1:-1]
    freqs = np.linspace(0, 8000, 257)
    assert np.all(np.abs(freqs[peaks] - centres) <= 8000 / 256)  # each peaks at its mel point (to a bin)
    # neighbouring triangles cross at one half-way in mel: inside the band covered, they sum to about 1
    inner = (freqs > centres[0]) & (freqs < centres[-1])
    np.testing.assert_allclose(fb[:, inner].sum(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(A.mel_to_hz(A.hz_to_mel([0.0, 700.0, 4000.0])), [0.0, 700.0, 4000.0])


def test_log_mel_shape_and_level():
    x = np.random.default_rng(0).standard_normal(16000) * 0.1
    m = A.log_mel_spectrogram(x, 16000)
    assert m.shape == (40, 101) and m.dtype == np.float32
    louder = A.log_mel_spectrogram(10 * x, 16000)
    np.testing.assert_allclose(louder - m, np.log(100.0), atol=1e-3)  # power scales with the square


def test_wav_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = np.clip(rng.standard_normal(1234) * 0.3, -1, 1).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 16000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=2 / 32767)  # rounding, and 16-bit full scale written as 32767, read as 32768
    write_wav(tmp_path / "b.wav", np.array([2.0, -2.0, 0.5]), 8000)  # clipped, not wrapped
    np.testing.assert_allclose(read_wav(tmp_path / "b.wav")[0], [32767 / 32768, -32767 / 32768, 16384 / 32768], atol=1e-6)
    with pytest.raises(ValueError, match="mono"):
        write_wav(tmp_path / "c.wav", np.zeros((2, 5)), 8000)


def test_read_wav_stereo_and_8_bit(tmp_path):
    import wave

    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.array([[16384, 0], [-16384, -16384]], "<i2").tobytes())
    np.testing.assert_allclose(read_wav(tmp_path / "s.wav")[0], [0.25, -0.5])
    with wave.open(str(tmp_path / "u8.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes([128, 192, 64]))
    np.testing.assert_allclose(read_wav(tmp_path / "u8.wav")[0], [0.0, 0.5, -0.5])


@pytest.mark.parametrize("rate_in,rate_out", [(22050, 16000), (8000, 16000), (16000, 11025)])
def test_resample_keeps_a_sine_and_removes_what_the_new_rate_cannot_hold(rate_in, rate_out):
    n = rate_in // 2
    t_in = np.arange(n) / rate_in
    f0 = 440.0 * rate_in / n * round(n / rate_in)  # a whole number of periods: the DFT resampling is exact
    y = resample(np.sin(2 * np.pi * f0 * t_in), rate_in, rate_out)
    assert len(y) == round(n * rate_out / rate_in)
    t_out = np.arange(len(y)) / rate_out
    np.testing.assert_allclose(y, np.sin(2 * np.pi * f0 * t_out), atol=1e-4)
    if rate_out < rate_in:  # a tone above the new Nyquist frequency is gone (no aliasing)
        high = np.sin(2 * np.pi * (round(0.45 * n) * rate_in / n) * t_in)  # a whole number of periods again
        assert np.abs(resample(high, rate_in, rate_out)).max() < 1e-6
