"""The batch's step functions alone, on real media (yt-dlp against 127.0.0.1, ffmpeg, tiny.en)."""

from __future__ import annotations

import pytest
from pipeline import pages, steps, transcribe
from pipeline.cache import Cache
from pipeline.config import load_config
from pipeline.hooks import StageHooks
from pipeline.job import JobMaker, VideoJob
from pipeline.plan import OTHER_SHARD, SKIP, TODO, UNREADABLE, Selection, plan_pages

PAGE = """# Jane Doe: A test talk

## Key Links
- Video: {url}

```
## Timestamps
00:00 Start
```

## Transcript
"""


@pytest.fixture(scope="module")
def model():
    return transcribe.load_model(load_config().model, batch_size=load_config().transcribe.batch_size)


def a_job(tmp_path, url: str) -> tuple[VideoJob, Cache]:
    source = tmp_path / "01-talk.md"
    source.write_text(PAGE.format(url=url), encoding="utf-8")
    page = pages.read_page(source)
    cache = Cache.at(tmp_path / "cache")
    return JobMaker(load_config(), cache).job(page, page.videos[0]), cache


def test_a_refetch_keeps_that_an_earlier_fetch_downloaded(media_server, tmp_path, model):
    """Issue 10 item 13: two pages' fetches of one video race for its lock, and the WAV is gone
    by the time the later page is transcribed, so its audio is fetched again (from the cache).
    That second fetch must not erase that the first one went to the network."""
    config = load_config()
    job, cache = a_job(tmp_path, media_server.url("jfk.flac"))
    first = steps.fetch_audio(job, cache, config, StageHooks())
    assert first.error is None and first.downloaded and first.audio_path is not None
    first.audio_path.unlink()  # as the other page's transcription removed it
    done = steps.transcribe_video(job, first, lambda: model, cache, config, StageHooks())
    assert done.transcribed and done.downloaded
    assert set(done.timings) == {"download", "prepare", "transcribe"}  # the refetch's own work, and the model's
    assert "ask not what your country" in " ".join(s.text for s in done.transcription.segments).lower()


def test_the_video_step_runs_download_to_transcription_and_then_reads_the_cache(media_server, tmp_path, model):
    config = load_config()
    job, cache = a_job(tmp_path, media_server.url("jfk.ogg"))
    done = steps.video_step(job, lambda: model, cache, config, StageHooks())
    assert done.downloaded and done.transcribed and set(done.timings) == {"download", "prepare", "transcribe"}
    assert job.transcript.path.is_file() and job.transcript.path.parent.parent.name == "transcripts"
    assert transcribe.read_cached(job.transcript.path, job.transcript.fingerprint) == done.transcription

    def no_model():
        raise AssertionError("the model must not be needed: the transcription is cached")

    again = steps.video_step(job, no_model, cache, config, StageHooks())
    assert not again.transcribed and again.transcription == done.transcription


def test_a_failed_fetch_is_one_line_and_raises_nothing(media_server, tmp_path):
    config = load_config()
    job, cache = a_job(tmp_path, media_server.url("status/404"))
    fetched = steps.fetch_audio(job, cache, config, StageHooks())
    assert fetched.error is not None and fetched.error.startswith("download: ") and "\n" not in fetched.error
    assert fetched.download_failed and fetched.audio_path is None


def test_one_plan_decides_every_page(tmp_path):
    items: list[pages.Page | pages.PageError] = [
        *(pages.Page(path=f"{i:02}.md", title="t", state=pages.NEEDS_TRANSCRIPT) for i in range(4)),
        pages.Page(path="draft.md", title="t", state=pages.HAS_DRAFT),
        pages.PageError("bad.md", "not UTF-8"),
    ]
    plans = plan_pages(items, Selection(limit=2))
    assert [p.decision for p in plans] == [TODO, TODO, SKIP, SKIP, SKIP, UNREADABLE]
    assert plans[2].reason == "beyond --limit 2" and "use --force" in (plans[4].reason or "")
    forced = plan_pages(items, Selection(force=True, shard=(1, 2)))
    assert {p.decision for p in forced[:5]} == {TODO, OTHER_SHARD}
    other = plan_pages(items, Selection(force=True, shard=(2, 2)))
    # the two shards split the pages between them, each page to exactly one
    assert [a.decision == TODO for a in forced[:5]] == [b.decision == OTHER_SHARD for b in other[:5]]
