"""Audio for course 5, week 3's trigger-word detection, in NumPy (plus espeak-ng for speech).

* :mod:`~deepgrad.audio.wav`: ``read_wav`` / ``write_wav`` (the standard library's ``wave``), ``resample``;
* :mod:`~deepgrad.audio.features`: ``stft`` (``torch.stft``'s conventions), ``mel_filterbank``,
  ``log_mel_spectrogram``;
* :mod:`~deepgrad.audio.synth`: words spoken by espeak-ng in many voices, cached;
* :mod:`~deepgrad.audio.noise`: coloured noise, hum, babble, the chime;
* :mod:`~deepgrad.audio.trigger`: clips with labels, event and frame scores, chimes after detections.
"""
from __future__ import annotations

from .features import hann_window, log_mel_spectrogram, mel_filterbank, power_spectrogram, stft
from .noise import babble, background, chime, colored_noise, hum
from .synth import EspeakMissing, Voice, espeak_path, synthesize
from .wav import read_wav, resample, write_wav

__all__ = ["hann_window", "log_mel_spectrogram", "mel_filterbank", "power_spectrogram", "stft", "background",
           "babble", "chime", "colored_noise", "hum", "EspeakMissing", "Voice", "espeak_path", "synthesize",
           "read_wav", "resample", "write_wav"]
