"""What a recording holds: WAV files of 48 kHz mono 16-bit samples, their loudest
frequency (Goertzel) and their level. Shared by the tests of the softphone and of the
door phone example."""

import math
import struct
import wave

RATE = 48000


def read_wav(path):
    """A 48 kHz mono 16-bit WAV file as a list of samples; ValueError for any other."""
    with wave.open(path, "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{path}: not 48 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def dominant(pcm, low=200, high=1500, step=10):
    """The loudest frequency from low to high Hz in step Hz steps (Goertzel)."""
    best, best_f = 0.0, 0
    for f in range(low, high + 1, step):
        k = 2 * math.cos(2 * math.pi * f / RATE)
        s1 = s2 = 0.0
        for x in pcm:
            s1, s2 = x + k * s1 - s2, s1
        p = s1 * s1 + s2 * s2 - k * s1 * s2
        if p > best:
            best, best_f = p, f
    return best_f


def rms(pcm):
    return math.sqrt(sum(x * x for x in pcm) / len(pcm)) if pcm else 0.0
