"""The CUDA path, on a machine with a CUDA GPU (scripts/gpu_check.sh runs these there).

Elsewhere every test skips with the reason. Real model (the embedded tiny.en), real
speech (the committed example talk, so nothing outside the checkout is needed: the
GPU machine gets the working tree only).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline import audio, transcribe
from pipeline.config import load_config

REPO = Path(__file__).resolve().parent.parent
SPEECH = REPO / "examples" / "media" / "intro-to-terminal.ogg"  # 50 s of real speech


def _cuda_devices() -> int:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count()
    except Exception:
        return 0


pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(_cuda_devices() == 0, reason="no CUDA GPU visible to CTranslate2 on this machine"),
]


def _words(result: transcribe.Transcription) -> list[str]:
    return [w.text.strip().lower().strip(".,?!") for w in result.words if w.text.strip(" .,?!")]


def _word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    import jiwer

    return jiwer.wer(" ".join(reference), " ".join(hypothesis))


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    return audio.prepare(SPEECH, tmp_path_factory.mktemp("cuda") / "speech.wav").path


def _run(wav: Path, device: str, compute_type: str, batch_size: int) -> transcribe.Transcription:
    config = load_config()
    config = config.replace("model", device=device, compute_type=compute_type)
    config = config.replace("transcribe", batch_size=batch_size)
    model = transcribe.load_model(config.model, batch_size=batch_size)
    assert model.device == device and model.compute_type == compute_type
    return transcribe.transcribe(model, wav, config.transcribe)


@pytest.fixture(scope="module")
def cpu_reference(speech_wav) -> transcribe.Transcription:
    return _run(speech_wav, "cpu", "int8", 8)


def test_auto_picks_cuda_and_float16_where_a_gpu_is():
    import ctranslate2

    supported = ctranslate2.get_supported_compute_types("cuda")
    chosen = transcribe.choose_device_and_compute("auto", "auto", cuda_devices=_cuda_devices(), supported=supported)
    assert chosen == ("cuda", "float16")


@pytest.mark.parametrize("compute_type", ["float16", "int8_float16"])
def test_cuda_transcription_gives_the_cpu_words_within_a_small_wer(speech_wav, cpu_reference, compute_type):
    result = _run(speech_wav, "cuda", compute_type, 8)
    assert len(_words(result)) > 60  # 50 s of speech
    assert _word_error_rate(_words(cpu_reference), _words(result)) <= 0.10
    assert result.words[-1].end <= result.audio_duration + 0.5


def test_cuda_sequential_and_batch_32_agree(speech_wav):
    sequential = _run(speech_wav, "cuda", "float16", 1)
    batched = _run(speech_wav, "cuda", "float16", 32)
    assert _word_error_rate(_words(sequential), _words(batched)) <= 0.10
