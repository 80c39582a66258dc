"""Cluttered backgrounds that no training augmentation draws (train/nocs/augment.py draws its own): the benchmarks'
stand-in for the busy surroundings of a photo taken outside a studio (benchmarks/nocs_net.py --background busy,
benchmarks/repose_quality.py --busy-backgrounds)."""
from __future__ import annotations

import numpy as np


def busy_background(seed: int, index: int, size: int) -> np.ndarray:
    """float32 [size, size, 3] in [0, 1]: coloured 1/f noise (random phases, amplitude falling as 1/frequency)
    crossed by 3-12 random straight lines, drawn from (seed, index)."""
    rng = np.random.default_rng([seed, index, 7])
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    spectrum = np.exp(2j * np.pi * rng.random((3, size, size))) / np.maximum(frequency, 1.0 / size)
    noise = np.real(np.fft.ifft2(spectrum)).transpose(1, 2, 0)
    noise = (noise - noise.min(axis=(0, 1))) / np.ptp(noise, axis=(0, 1))
    image = np.clip(rng.uniform(0.2, 0.8, 3) + rng.uniform(0.3, 1.0) * (noise - 0.5), 0, 1)
    ys, xs = np.mgrid[:size, :size] + 0.5
    for _ in range(int(rng.integers(3, 13))):
        angle, offset, width = rng.uniform(0, np.pi), rng.uniform(0, size), rng.uniform(0.5, 3.0)
        on_line = np.abs(xs * np.cos(angle) + ys * np.sin(angle) - offset) < width
        image[on_line] = rng.random(3)
    return image.astype(np.float32)
