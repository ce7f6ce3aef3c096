"""Who spoke when, in a recording that names no speakers (an imported file).

This module owns speaker diarisation and its measure (the diarisation error rate):

1. Speech regions are taken from the caller (e.g. stretches of recognised words) or found with the
   Silero VAD that faster-whisper ships as ONNX.
2. Each region is cut into overlapping windows of 1.6 s, and each window becomes a d-vector from
   the GE2E voice encoder whose weights the ``resemblyzer`` package ships
   (``resemblyzer/pretrained.pt``). The weights are read without torch (a restricted unpickler
   for torch's legacy file format) and the encoder (40-channel mel filterbank, 3-layer LSTM,
   linear layer, ReLU, L2 norm) runs in numpy with resemblyzer's audio settings.
3. Full-length windows are grouped by average-linkage agglomerative clustering on cosine
   distance (fastcluster): into ``speaker_count`` groups when the caller gives it, else the
   dendrogram is cut at :data:`SPEAKER_DISTANCE_THRESHOLD`. Groups too small to be a speaker,
   or found only where voices hand over, are folded into the nearest real one, and windows are
   reassigned to the nearest speaker centroid. Windows of regions shorter than 1.6 s (noisier)
   only ever join a speaker found in longer ones.
4. Each 10 ms frame of speech goes to the speaker its covering windows resemble most; runs shorter
   than :data:`MIN_TURN_SECONDS` join a neighbour, and the runs become :class:`SpeakerTurn` named
   "Speaker 1", "Speaker 2", ... in order of first speech.

Everything is CPU-only and nothing is fetched at run time.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import pickle
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
FRAME_STEP = 160
"""Samples between two mel frames (10 ms)."""
FFT_SIZE = 400
"""Samples in one mel frame (25 ms)."""
MEL_CHANNELS = 40
FRAMES_PER_SECOND = SAMPLE_RATE // FRAME_STEP

WINDOW_FRAMES = 160
"""Frames in one embedded window: the length the encoder was trained on (1.6 s)."""
HOP_FRAMES = 40
"""Frames between the starts of two windows of a region (0.4 s)."""
MIN_WINDOW_FRAMES = 40
"""Shortest region that gets an embedding of its own (0.4 s); shorter ones take a neighbour's
speaker."""
LENGTH_BUCKET_FRAMES = 10
"""Short windows are trimmed to a multiple of this, so they can be batched by length."""
BATCH_WINDOWS = 256

TARGET_DBFS = -30.0
"""Level speech is brought to before embedding, as resemblyzer does."""
SILENT_WINDOW_DBFS = -60.0
"""A window quieter than this (before levelling) holds no speech and is not embedded."""

SPEAKER_DISTANCE_THRESHOLD = 0.35
"""Without ``speaker_count``, two groups of windows stay apart when their average cosine distance
(average linkage) is above this. Measured on 2-minute monologues, the last merge of one voice's
windows came at 0.24 to 0.31 (six espeak-ng voices, a Piper voice 0.25); on dialogues, the
merge of two voices at 0.40 to 0.61 for clearly different voices, 0.35 for a Piper voice and
the same voice 15 % lower, 0.32 for two of espeak-ng's look-alike male voices (not separated)."""
MIN_SPEAKER_WINDOWS = 3
"""A group of fewer windows is not a speaker of its own (about 2.4 s of speech) unless there
are too few windows for any group to reach this size."""
MAX_CLUSTERED_WINDOWS = 4000
"""Beyond this many windows, clustering runs on an even subsample (its distance matrix grows
with the square) and the others go to the nearest speaker centroid."""
REFINE_ROUNDS = 3
MAX_STRADDLING_RUN = 3
"""Windows in a row that can all straddle one change of speaker (they start 0.4 s apart)."""

MIN_TURN_SECONDS = 0.5
"""A run of frames shorter than this, between or next to speech of another speaker, joins it."""
JOIN_GAP_SECONDS = 0.5
"""Consecutive turns of one speaker separated by less silence than this become one turn."""

VAD_MIN_SILENCE_MS = 300
VAD_SPEECH_PAD_MS = 100
VAD_MIN_SPEECH_MS = 200

ENCODER_DISTRIBUTION = "resemblyzer"
ENCODER_WEIGHTS_PATH = "resemblyzer/pretrained.pt"
ENCODER_WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
HIDDEN_SIZE = 256
LSTM_LAYERS = 3


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of speech by one speaker; seconds from the start of the recording."""

    start: float
    end: float
    speaker: str


class VoiceEncoderError(RuntimeError):
    """The voice encoder weights are missing, damaged, or not in the expected format."""


# --------------------------------------------------------------------------------------------
# Voice encoder weights: torch's legacy file format read without torch
# --------------------------------------------------------------------------------------------


_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageSlot:
    """A storage named by the main pickle; its bytes come later in the file."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype)
        self.values: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorView:
    storage: _StorageSlot
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def to_array(self) -> np.ndarray:
        values = self.storage.values
        if values is None:
            raise VoiceEncoderError("a tensor refers to a storage the file does not hold")
        if any(n == 0 for n in self.shape):
            return np.zeros(self.shape, dtype=values.dtype)
        size = values.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides)) + 1
        if self.offset < 0 or min(self.strides, default=0) < 0 or needed > values.size:
            raise VoiceEncoderError("a tensor reaches past the end of its storage")
        return np.lib.stride_tricks.as_strided(
            values[self.offset:], shape=self.shape, strides=[s * size for s in self.strides]
        ).copy()


def _rebuild_tensor(storage, offset, shape, strides, *_ignored) -> _TensorView:
    return _TensorView(storage, int(offset), tuple(shape), tuple(strides))


def _rebuild_parameter(tensor, *_ignored):
    return tensor


class _LegacyCheckpointUnpickler(pickle.Unpickler):
    """Unpickles the main object of a legacy torch file, allowing only tensors and plain data."""

    def __init__(self, file, storages: dict[str, _StorageSlot]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"the weights file refers to {module}.{name}: refused")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, _count = pid[:5]
        if storage_type not in _STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        if key not in self._storages:
            self._storages[key] = _StorageSlot(_STORAGE_DTYPES[storage_type])
        return self._storages[key]


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"the weights file refers to {module}.{name}: refused")


def _plain_load(file):
    return _PlainDataUnpickler(file).load()


def read_legacy_torch_state(path: Path) -> dict[str, np.ndarray]:
    """The tensors of the ``model_state`` of a checkpoint in torch's legacy (non-zip) format.

    The file is: a magic number, a protocol version, a system-info dict, the main pickle (whose
    tensors name storages by key), the list of storage keys, then each storage as a little-endian
    int64 element count followed by its raw little-endian values.
    """
    storages: dict[str, _StorageSlot] = {}
    with Path(path).open("rb") as file:
        try:
            _plain_load(file)
            protocol = _plain_load(file)
            system = _plain_load(file)
            if protocol != 1001 or not isinstance(system, dict):
                raise VoiceEncoderError(f"{path} is not a legacy torch checkpoint")
            if not system.get("little_endian", False):
                raise VoiceEncoderError(f"{path} was written on a big-endian machine")
            checkpoint = _LegacyCheckpointUnpickler(file, storages).load()
            keys = _plain_load(file)
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise VoiceEncoderError(f"cannot read {path}: {exc}") from exc
        for key in keys:
            header = file.read(8)
            if len(header) != 8 or key not in storages:
                raise VoiceEncoderError(f"{path} is truncated or inconsistent")
            (count,) = struct.unpack("<q", header)
            if count < 0:
                raise VoiceEncoderError(f"{path} is inconsistent")
            slot = storages[key]
            raw = file.read(count * slot.dtype.itemsize)
            if len(raw) != count * slot.dtype.itemsize:
                raise VoiceEncoderError(f"{path} is truncated")
            slot.values = np.frombuffer(raw, dtype=slot.dtype.newbyteorder("<"))
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise VoiceEncoderError(f"{path} holds no model_state")
    return {name: value.to_array() for name, value in state.items()
            if isinstance(value, _TensorView)}


def locate_encoder_weights() -> Path:
    """Path of ``pretrained.pt`` inside the installed resemblyzer distribution.

    Found through the distribution's file list, without importing resemblyzer (whose
    ``__init__`` imports torch, which is deliberately not installed).
    """
    try:
        distribution = metadata.distribution(ENCODER_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise VoiceEncoderError(
            "the resemblyzer package (which ships the voice encoder weights) is not installed; "
            "it is a dependency of mb-transcriber: run `uv sync`"
        ) from exc
    for file in distribution.files or ():
        if file.as_posix() == ENCODER_WEIGHTS_PATH:
            return Path(distribution.locate_file(file))
    raise VoiceEncoderError(
        f"resemblyzer {distribution.version} has no {ENCODER_WEIGHTS_PATH}; reinstall it"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * values) + 1.0)


@dataclass(frozen=True)
class _LstmLayer:
    input_weights: np.ndarray  # (input, 4 * hidden), gates in torch's order: i, f, g, o
    hidden_weights: np.ndarray  # (hidden, 4 * hidden)
    bias: np.ndarray  # (4 * hidden,)


class VoiceEncoder:
    """resemblyzer's GE2E speaker encoder, in numpy: mel frames in, 256-d unit vectors out."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        try:
            self._layers = tuple(
                _LstmLayer(
                    input_weights=np.ascontiguousarray(state[f"lstm.weight_ih_l{n}"].T, np.float32),
                    hidden_weights=np.ascontiguousarray(state[f"lstm.weight_hh_l{n}"].T,
                                                        np.float32),
                    bias=(state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"]).astype(
                        np.float32),
                )
                for n in range(LSTM_LAYERS)
            )
            self._linear_weights = np.ascontiguousarray(state["linear.weight"].T, np.float32)
            self._linear_bias = state["linear.bias"].astype(np.float32)
        except KeyError as exc:
            raise VoiceEncoderError(f"the encoder weights lack {exc}") from exc
        if self._layers[0].input_weights.shape != (MEL_CHANNELS, 4 * HIDDEN_SIZE):
            raise VoiceEncoderError("the encoder weights do not have the expected shapes")

    @classmethod
    def from_file(cls, path: Path, sha256: str | None = ENCODER_WEIGHTS_SHA256) -> VoiceEncoder:
        path = Path(path)
        if sha256 is not None:
            actual = _sha256(path)
            if actual != sha256:
                raise VoiceEncoderError(
                    f"{path} has sha256 {actual}, expected {sha256}: the resemblyzer package "
                    "is damaged or has been tampered with; reinstall it"
                )
        return cls(read_legacy_torch_state(path))

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings ``(batch, 256)`` of mel windows ``(batch, frames, 40)`` of equal length."""
        batch, frames, _ = mels.shape
        layer_input = np.ascontiguousarray(mels.transpose(1, 0, 2), dtype=np.float32)
        hidden = np.zeros((batch, HIDDEN_SIZE), np.float32)
        for layer in self._layers:
            projected = (layer_input.reshape(frames * batch, -1) @ layer.input_weights
                         + layer.bias).reshape(frames, batch, 4 * HIDDEN_SIZE)
            outputs = np.empty((frames, batch, HIDDEN_SIZE), np.float32)
            hidden = np.zeros((batch, HIDDEN_SIZE), np.float32)
            cell = np.zeros((batch, HIDDEN_SIZE), np.float32)
            for step in range(frames):
                gates = projected[step] + hidden @ layer.hidden_weights
                input_gate = _sigmoid(gates[:, :HIDDEN_SIZE])
                forget_gate = _sigmoid(gates[:, HIDDEN_SIZE:2 * HIDDEN_SIZE])
                candidate = np.tanh(gates[:, 2 * HIDDEN_SIZE:3 * HIDDEN_SIZE])
                output_gate = _sigmoid(gates[:, 3 * HIDDEN_SIZE:])
                cell = forget_gate * cell + input_gate * candidate
                hidden = output_gate * np.tanh(cell)
                outputs[step] = hidden
            layer_input = outputs
        raw = np.maximum(hidden @ self._linear_weights + self._linear_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)


_encoder_lock = threading.Lock()


@functools.cache
def _cached_encoder() -> VoiceEncoder:
    return VoiceEncoder.from_file(locate_encoder_weights())


def load_voice_encoder() -> VoiceEncoder:
    """The packaged encoder, loaded and checked once per process."""
    with _encoder_lock:
        return _cached_encoder()


# --------------------------------------------------------------------------------------------
# Mel spectrogram (resemblyzer's settings: librosa's power mel, Slaney scale and norm)
# --------------------------------------------------------------------------------------------


def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_step = math.log(6.4) / 27.0
    linear = hz / (200.0 / 3.0)
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step
    return np.where(hz >= 1000.0, logarithmic, linear)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_step = math.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3.0))


@functools.cache
def mel_filterbank(sample_rate: int = SAMPLE_RATE, fft_size: int = FFT_SIZE,
                   channels: int = MEL_CHANNELS) -> np.ndarray:
    """Triangular filters ``(channels, fft_size // 2 + 1)`` on the Slaney mel scale, each scaled
    to unit area (librosa's ``filters.mel`` defaults)."""
    bin_hz = np.linspace(0.0, sample_rate / 2.0, fft_size // 2 + 1)
    edges_mel = np.linspace(_hz_to_slaney_mel(0.0), _hz_to_slaney_mel(sample_rate / 2.0),
                            channels + 2)
    edges_hz = _slaney_mel_to_hz(edges_mel)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= 2.0 / (upper - lower)
    filters.setflags(write=False)
    return filters


@functools.cache
def _analysis_window() -> np.ndarray:
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(FFT_SIZE) / FFT_SIZE)
    window.setflags(write=False)
    return window


def mel_spectrogram(samples: np.ndarray, block_frames: int = 2000) -> np.ndarray:
    """Power mel spectrogram ``(frames, 40)`` of 16 kHz samples: one frame every 10 ms, centred
    on its sample (zero padding at both ends), 25 ms periodic Hann window, no logarithm."""
    samples = np.asarray(samples, dtype=np.float64)
    frame_count = 1 + samples.size // FRAME_STEP
    padded = np.pad(samples, FFT_SIZE // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, FFT_SIZE)[::FRAME_STEP]
    frames = frames[:frame_count]
    filters_t = mel_filterbank().T
    window = _analysis_window()
    out = np.empty((frames.shape[0], MEL_CHANNELS), np.float32)
    for first in range(0, frames.shape[0], block_frames):
        spectrum = np.fft.rfft(frames[first:first + block_frames] * window, axis=1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        out[first:first + block_frames] = power @ filters_t
    return out


# --------------------------------------------------------------------------------------------
# Speech regions and windows
# --------------------------------------------------------------------------------------------


def detect_speech(samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions (seconds) of 16 kHz samples, by the Silero VAD bundled with faster-whisper.

    Pauses of 0.3 s or more split regions, so that a change of speaker at a pause is a region
    boundary too.
    """
    if samples.size == 0:
        return []
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=VAD_MIN_SILENCE_MS,
                         speech_pad_ms=VAD_SPEECH_PAD_MS,
                         min_speech_duration_ms=VAD_MIN_SPEECH_MS)
    found = get_speech_timestamps(np.ascontiguousarray(samples, np.float32), options,
                                  sampling_rate=SAMPLE_RATE)
    return [(item["start"] / SAMPLE_RATE, item["end"] / SAMPLE_RATE) for item in found]


def _merged_regions(regions: Sequence[tuple[float, float]], sample_count: int
                    ) -> list[tuple[int, int]]:
    """Sorted, non-overlapping regions as frame indices, clipped to the audio."""
    last_frame = sample_count // FRAME_STEP
    spans = sorted(
        (max(0, int(round(start * FRAMES_PER_SECOND))),
         min(last_frame, int(round(end * FRAMES_PER_SECOND))))
        for start, end in regions
        if math.isfinite(start) and math.isfinite(end)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _window_starts(length: int) -> list[int]:
    if length <= WINDOW_FRAMES:
        return [0]
    starts = list(range(0, length - WINDOW_FRAMES + 1, HOP_FRAMES))
    if starts[-1] != length - WINDOW_FRAMES:
        starts.append(length - WINDOW_FRAMES)
    return starts


@dataclass(frozen=True)
class _Window:
    start: int  # frame index in the recording
    end: int
    region: int  # index of the speech region it lies in


def _resample(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == SAMPLE_RATE or samples.size == 0:
        return samples
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
    pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)


def _dbfs(mean_square: float) -> float:
    return 10.0 * math.log10(max(mean_square, 1e-20))


def _embed_regions(samples: np.ndarray, regions: list[tuple[int, int]], encoder: VoiceEncoder
                   ) -> tuple[list[_Window], np.ndarray]:
    """Windows over the regions (frame spans) and their embeddings; silent windows are left out."""
    energy = sum(float(np.dot(part, part)) for part in
                 (samples[a * FRAME_STEP:b * FRAME_STEP].astype(np.float64) for a, b in regions))
    speech_samples = sum(b - a for a, b in regions) * FRAME_STEP
    gain_power = 10.0 ** ((TARGET_DBFS - _dbfs(energy / max(1, speech_samples))) / 10.0)

    windows: list[_Window] = []
    mels_by_length: dict[int, list[tuple[int, np.ndarray]]] = {}
    for region_index, (region_start, region_end) in enumerate(regions):
        length = region_end - region_start
        if length < MIN_WINDOW_FRAMES:
            continue
        region_samples = samples[region_start * FRAME_STEP:region_end * FRAME_STEP]
        region_mel = mel_spectrogram(region_samples) * np.float32(gain_power)
        squares = np.concatenate([[0.0], np.cumsum(np.square(region_samples, dtype=np.float64))])
        for offset in _window_starts(length):
            frames = min(WINDOW_FRAMES, length - offset)
            if frames < WINDOW_FRAMES:
                frames -= frames % LENGTH_BUCKET_FRAMES
            first, last = offset * FRAME_STEP, (offset + frames) * FRAME_STEP
            mean_square = (squares[last] - squares[first]) / max(1, last - first)
            if _dbfs(mean_square) < SILENT_WINDOW_DBFS:
                continue
            mels_by_length.setdefault(frames, []).append(
                (len(windows), region_mel[offset:offset + frames]))
            windows.append(_Window(region_start + offset, region_start + offset + frames,
                                   region_index))

    embeddings = np.zeros((len(windows), HIDDEN_SIZE), np.float32)
    for items in mels_by_length.values():
        for first in range(0, len(items), BATCH_WINDOWS):
            chunk = items[first:first + BATCH_WINDOWS]
            batch = np.stack([mel for _, mel in chunk])
            embeddings[[index for index, _ in chunk]] = encoder.embed(batch)
    return windows, embeddings


# --------------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------------


def _cut_dendrogram(linkage: np.ndarray, leaves: int, clusters: int) -> np.ndarray:
    """Labels 0..clusters-1 of the leaves after the first ``leaves - clusters`` merges."""
    parent = np.arange(2 * leaves - 1)
    for row in range(leaves - clusters):
        a, b = int(linkage[row, 0]), int(linkage[row, 1])
        parent[a] = parent[b] = leaves + row

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    roots = [root(leaf) for leaf in range(leaves)]
    _, labels = np.unique(roots, return_inverse=True)
    return labels


def _centroids(embeddings: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    sums = np.zeros((count, embeddings.shape[1]))
    np.add.at(sums, labels, embeddings)
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def _speaker_groups(labels: np.ndarray, min_size: int, wanted: int | None) -> list[int]:
    """Labels of the groups large enough to be speakers, largest first (``wanted`` of them at
    most)."""
    sizes = np.bincount(labels)
    order = [int(label) for label in np.argsort(-sizes, kind="stable")]
    groups = [label for label in order if sizes[label] >= min_size] or order[:1]
    return groups[:wanted] if wanted is not None else groups


def _refine(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest-centroid labels, re-centred a few times while every speaker keeps windows."""
    assigned = np.argmax(embeddings @ centroids.T, axis=1)
    for _ in range(REFINE_ROUNDS):
        if np.unique(assigned).size < centroids.shape[0]:
            break
        refined = np.argmax(
            embeddings @ _centroids(embeddings, assigned, centroids.shape[0]).T, axis=1)
        if np.unique(refined).size < centroids.shape[0] or np.array_equal(refined, assigned):
            break
        assigned = refined
    return assigned


def _between_two_others(centroids: np.ndarray, speaker: int) -> bool:
    """Whether ``speaker``'s centroid lies between two other speakers' (its cosine distances to
    them add up to no more than theirs to each other): the mark of windows that hear both."""
    distances = 1.0 - centroids @ centroids.T
    others = [other for other in range(centroids.shape[0]) if other != speaker]
    return any(distances[speaker, a] + distances[speaker, b] <= distances[a, b]
               for a, b in itertools.combinations(others, 2))


def _only_where_voices_change(labels: np.ndarray, sequence: np.ndarray, speaker: int) -> bool:
    """Whether every run of ``speaker``'s consecutive windows in a region is short (at most
    :data:`MAX_STRADDLING_RUN`) and next to another speaker's window: then they are windows that
    straddle changes of speaker (hearing two voices), not a voice of its own, which would fill
    windows by itself somewhere (a longer run, or a region alone)."""
    found = False
    index = 0
    while index < labels.size:
        if labels[index] != speaker:
            index += 1
            continue
        first = index
        while (index + 1 < labels.size and labels[index + 1] == speaker
               and sequence[index + 1] == sequence[first]):
            index += 1
        last, index = index, index + 1
        found = True
        other_before = first > 0 and sequence[first - 1] == sequence[first]
        other_after = last + 1 < labels.size and sequence[last + 1] == sequence[last]
        if last - first + 1 > MAX_STRADDLING_RUN or not (other_before or other_after):
            return False
    return found


def cluster_speakers(embeddings: np.ndarray, speaker_count: int | None = None,
                     max_speakers: int = 8, threshold: float = SPEAKER_DISTANCE_THRESHOLD,
                     sequence: np.ndarray | None = None) -> np.ndarray:
    """Speaker label (0, 1, ...) of each unit-length embedding.

    With ``speaker_count``, exactly that many speakers (fewer only when there are fewer
    embeddings; ``max_speakers`` does not apply); otherwise as many as the average-linkage dendrogram has groups apart by more
    than ``threshold`` (cosine distance), at most ``max_speakers``. Groups smaller than
    :data:`MIN_SPEAKER_WINDOWS` are outliers (noise, a window straddling two voices) rather
    than speakers, and join the nearest speaker. ``sequence`` (when the embeddings are of
    consecutive windows) gives each one's region: consecutive embeddings of one region overlap
    in time. Without a count, a group found only where voices hand over, or whose centroid lies
    between two others', is made of windows that hear two voices, and is not a speaker either.
    """
    import fastcluster

    count = embeddings.shape[0]
    if count == 0:
        return np.zeros(0, dtype=int)
    wanted = None if speaker_count is None else max(1, min(speaker_count, count))
    if count == 1 or wanted == 1:
        return np.zeros(count, dtype=int)

    stride = math.ceil(count / MAX_CLUSTERED_WINDOWS)
    sample = embeddings[::stride].astype(np.float64)
    leaves = sample.shape[0]
    similarity = np.clip(sample @ sample.T, -1.0, 1.0)
    upper = np.triu_indices(leaves, k=1)
    linkage = fastcluster.linkage(1.0 - similarity[upper], method="average")
    min_size = min(MIN_SPEAKER_WINDOWS, max(1, leaves // max(2, wanted or 2)))

    if wanted is None:
        groups_apart = 1 + int(np.count_nonzero(linkage[:, 2] > threshold))
        labels = _cut_dendrogram(linkage, leaves, min(groups_apart, leaves))
        speakers = _speaker_groups(labels, min_size, max_speakers)
    else:
        speakers = []
        for clusters in range(wanted, leaves + 1):
            labels = _cut_dendrogram(linkage, leaves, clusters)
            speakers = _speaker_groups(labels, min_size, wanted)
            if len(speakers) == wanted:
                break
        if len(speakers) < wanted:
            labels = _cut_dendrogram(linkage, leaves, wanted)
            speakers = list(range(wanted))

    centroids = _centroids(sample, labels, int(labels.max()) + 1)[speakers]
    assigned = _refine(embeddings, centroids)
    if wanted is not None and np.unique(assigned).size < len(speakers):
        for position, label in enumerate(speakers):
            assigned[::stride][labels == label] = position
    if wanted is not None or sequence is None:
        return np.unique(assigned, return_inverse=True)[1]
    while centroids.shape[0] > 1:
        centroids = _centroids(embeddings, assigned, centroids.shape[0])
        mixtures = [speaker for speaker in range(centroids.shape[0])
                    if _between_two_others(centroids, speaker)
                    or _only_where_voices_change(assigned, sequence, speaker)]
        if not mixtures:
            break
        sizes = np.bincount(assigned, minlength=centroids.shape[0])
        centroids = np.delete(centroids, min(mixtures, key=lambda speaker: sizes[speaker]), axis=0)
        assigned = _refine(embeddings, centroids)
    _, assigned = np.unique(assigned, return_inverse=True)
    return assigned


# --------------------------------------------------------------------------------------------
# Frames to turns
# --------------------------------------------------------------------------------------------


@functools.cache
def _window_weights(frames: int) -> np.ndarray:
    weights = np.hanning(frames + 2)[1:-1]
    weights.setflags(write=False)
    return weights


def _frame_speakers(regions: list[tuple[int, int]], windows: list[_Window],
                    scores: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs ``(speaker, first_frame, end_frame)`` over the speech regions, in time order."""
    total = regions[-1][1]
    votes = np.zeros((total, scores.shape[1]))
    for window, window_scores in zip(windows, scores):
        weights = _window_weights(window.end - window.start)
        votes[window.start:window.end] += weights[:, None] * window_scores[None, :]

    centres = np.array([(w.start + w.end) / 2 for w in windows])
    window_speakers = np.argmax(scores, axis=1)
    runs: list[tuple[int, int, int]] = []
    for start, end in regions:
        region_votes = votes[start:end]
        covered = region_votes.any(axis=1)
        labels = np.argmax(region_votes, axis=1)
        if not covered.all():
            nearest = window_speakers[np.argmin(np.abs(centres - (start + end) / 2))]
            labels[~covered] = nearest
        boundaries = np.flatnonzero(np.diff(labels)) + 1
        for first, last in zip(np.r_[0, boundaries], np.r_[boundaries, labels.size]):
            runs.append((int(labels[first]), start + int(first), start + int(last)))
    return runs


def _absorb_short_runs(runs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Give each short run that touches speech of another speaker to its longer neighbour."""
    min_frames = int(MIN_TURN_SECONDS * FRAMES_PER_SECOND)
    join_frames = int(JOIN_GAP_SECONDS * FRAMES_PER_SECOND)
    runs = list(runs)
    while True:
        candidates = []
        for index, (speaker, start, end) in enumerate(runs):
            if end - start >= min_frames:
                continue
            neighbours = [other for other in (index - 1, index + 1)
                          if 0 <= other < len(runs) and runs[other][0] != speaker
                          and (runs[other][1] - end if other > index else start - runs[other][2])
                          <= join_frames]
            if neighbours:
                candidates.append((end - start, index, neighbours))
        if not candidates:
            return runs
        _, index, neighbours = min(candidates)
        target = max(neighbours, key=lambda other: runs[other][2] - runs[other][1])
        speaker, start, end = runs[index]
        runs[index] = (runs[target][0], start, end)
        runs = _join_adjacent(runs, gap_frames=0)


def _join_adjacent(runs: list[tuple[int, int, int]], gap_frames: int
                   ) -> list[tuple[int, int, int]]:
    joined: list[tuple[int, int, int]] = []
    for speaker, start, end in runs:
        if joined and joined[-1][0] == speaker and start - joined[-1][2] <= gap_frames:
            joined[-1] = (speaker, joined[-1][1], max(end, joined[-1][2]))
        else:
            joined.append((speaker, start, end))
    return joined


def diarise(samples: np.ndarray, sample_rate: int,
            speech: Sequence[tuple[float, float]] | None = None,
            speaker_count: int | None = None, max_speakers: int = 8) -> list[SpeakerTurn]:
    """Who spoke when in ``samples`` (mono float32 in [-1, 1]).

    ``speech``: speech regions in seconds (e.g. stretches of recognised words); without them,
    the Silero VAD finds them. ``speaker_count``: how many speakers there are, when known
    (taken as exact); otherwise the count is estimated, up to ``max_speakers``. Returns turns
    in time order, not overlapping, within speech regions, named "Speaker 1", "Speaker 2", ...
    in order of first speech; ``[]`` when there is no speech. Blocking and CPU-bound: about
    1.5 % of real time on two cores, plus 0.25 % for the VAD when ``speech`` is not given.
    """
    if speaker_count is not None and speaker_count < 1:
        raise ValueError("speaker_count must be at least 1")
    if max_speakers < 1:
        raise ValueError("max_speakers must be at least 1")
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0:
        return []
    samples = _resample(np.nan_to_num(samples), sample_rate)
    regions = _merged_regions(detect_speech(samples) if speech is None else speech, samples.size)
    if not regions:
        return []

    windows, embeddings = _embed_regions(samples, regions, load_voice_encoder())
    if not windows:
        return []
    full_length = np.array([w.end - w.start == WINDOW_FRAMES for w in windows])
    clustered = full_length if full_length.any() else np.ones_like(full_length)
    labels = cluster_speakers(embeddings[clustered], speaker_count, max_speakers,
                              sequence=np.array([w.region for w in windows])[clustered])
    centroids = _centroids(embeddings[clustered], labels, int(labels.max()) + 1)
    scores = embeddings @ centroids.T
    embedded = {window.region for window in windows}
    audible = [(start, end) for index, (start, end) in enumerate(regions)
               if index in embedded or end - start < MIN_WINDOW_FRAMES]
    runs = _absorb_short_runs(_frame_speakers(audible, windows, scores))
    runs = _join_adjacent(runs, gap_frames=int(JOIN_GAP_SECONDS * FRAMES_PER_SECOND))

    names: dict[int, str] = {}
    turns = []
    for speaker, start, end in runs:
        name = names.setdefault(speaker, f"Speaker {len(names) + 1}")
        turns.append(SpeakerTurn(start=start / FRAMES_PER_SECOND, end=end / FRAMES_PER_SECOND,
                                 speaker=name))
    return turns


# --------------------------------------------------------------------------------------------
# Diarisation error rate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiarisationScore:
    """Seconds of scored reference speech and of each kind of error; ``error_rate`` is their
    sum over the reference speech (the DER)."""

    reference_speech: float
    missed: float
    false_alarm: float
    confusion: float

    @property
    def error_rate(self) -> float:
        if self.reference_speech == 0:
            return 0.0 if self.false_alarm == 0 else math.inf
        return (self.missed + self.false_alarm + self.confusion) / self.reference_speech


def _activity(turns: Sequence[SpeakerTurn], speakers: list[str], frames: int, step: float
              ) -> np.ndarray:
    active = np.zeros((frames, len(speakers)), dtype=bool)
    column = {name: index for index, name in enumerate(speakers)}
    for turn in turns:
        first = max(0, int(round(turn.start / step)))
        last = min(frames, int(round(turn.end / step)))
        active[first:last, column[turn.speaker]] = True
    return active


def _best_matching(overlap: np.ndarray) -> list[tuple[int, int]]:
    """Row-column pairs of a one-to-one matching with the largest total ``overlap``:
    exhaustive while that is cheap (up to 8 speakers a side), greedy beyond."""
    rows, cols = overlap.shape
    if rows == 0 or cols == 0:
        return []
    if rows > cols:
        return [(row, col) for col, row in _best_matching(overlap.T)]
    if math.perm(cols, rows) <= 50_000:
        best = max(itertools.permutations(range(cols), rows),
                   key=lambda chosen: sum(overlap[row, col] for row, col in enumerate(chosen)))
        return list(enumerate(best))
    pairs: list[tuple[int, int]] = []
    free_rows, free_cols = set(range(rows)), set(range(cols))
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        row, col = divmod(int(flat), cols)
        if row in free_rows and col in free_cols:
            pairs.append((row, col))
            free_rows.discard(row)
            free_cols.discard(col)
    return pairs


def _timelines(reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn], step: float
               ) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    end = max([t.end for t in reference] + [t.end for t in hypothesis] + [0.0])
    frames = int(math.ceil(end / step)) + 1
    reference_names = list(dict.fromkeys(t.speaker for t in reference))
    hypothesis_names = list(dict.fromkeys(t.speaker for t in hypothesis))
    return (reference_names, _activity(reference, reference_names, frames, step),
            hypothesis_names, _activity(hypothesis, hypothesis_names, frames, step))


def match_speakers(reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn],
                   step: float = 0.01) -> dict[str, str]:
    """Each hypothesis speaker's reference speaker, one to one, so that they agree the longest
    (hypothesis speakers left over are absent)."""
    reference_names, ref, hypothesis_names, hyp = _timelines(reference, hypothesis, step)
    overlap = ref.T.astype(np.int64) @ hyp.astype(np.int64)
    return {hypothesis_names[col]: reference_names[row] for row, col in _best_matching(overlap)}


def diarisation_error_rate(reference: Sequence[SpeakerTurn], hypothesis: Sequence[SpeakerTurn],
                           collar: float = 0.25, step: float = 0.01) -> DiarisationScore:
    """DER of ``hypothesis`` against ``reference``, as NIST md-eval counts it.

    Frames of ``step`` seconds within ``collar`` seconds either side of a reference turn's start
    or end are not scored (pyannote.metrics calls this a collar of ``2 * collar``). Overlapping
    speech is scored: a frame counts max(0, ref - hyp) missed speakers, max(0, hyp - ref) false
    alarms and min(ref, hyp) - matched confused ones. Speakers are matched one to one so as to
    maximise the agreeing time (exhaustively for up to 8 speakers, greedily beyond).
    """
    _, ref, _, hyp = _timelines(reference, hypothesis, step)
    scored = np.ones(ref.shape[0], dtype=bool)
    collar_frames = int(round(collar / step))
    for turn in reference:
        for boundary in (turn.start, turn.end):
            centre = int(round(boundary / step))
            scored[max(0, centre - collar_frames):max(0, centre + collar_frames)] = False
    ref, hyp = ref[scored], hyp[scored]

    ref_count = ref.sum(axis=1)
    hyp_count = hyp.sum(axis=1)
    overlap = ref.T.astype(np.int64) @ hyp.astype(np.int64)
    matched = sum(int(overlap[row, col]) for row, col in _best_matching(overlap))
    return DiarisationScore(
        reference_speech=float(ref_count.sum()) * step,
        missed=float(np.maximum(ref_count - hyp_count, 0).sum()) * step,
        false_alarm=float(np.maximum(hyp_count - ref_count, 0).sum()) * step,
        confusion=float(np.minimum(ref_count, hyp_count).sum() - matched) * step,
    )
