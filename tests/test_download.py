"""download(): the real yt-dlp against scripts/evalkit/mediaserver.py on 127.0.0.1, then the real prepare()."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline.audio import AudioError, prepare
from pipeline.cache import Cache
from pipeline.config import ConfigError, load_config
from pipeline.download import RECORD_NAME, cached_media, check_options, download, remove_cached
from pipeline.download_errors import (
    FORBIDDEN,
    IS_PLAYLIST,
    NOT_FOUND,
    NOT_MEDIA,
    RATE_LIMITED,
    DownloadError,
    RateLimitedError,
)
from pipeline.locations import media_key

from evalkit.mediaserver import MediaServer

REPO = Path(__file__).resolve().parent.parent
JFK_SECONDS = 11.0


def options(**changes):
    """The shipped [download] defaults, with tiny back-off waits so retries cost milliseconds."""
    return dataclasses.replace(load_config().download, **{"retry_wait": 0.01, **changes})


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and text.strip() == text
    return text


# -- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=8xqnvCaJ3kc",
        "https://youtube.com/watch?feature=share&v=8xqnvCaJ3kc&t=42s",
        "https://youtu.be/8xqnvCaJ3kc?t=10",
        "https://www.youtube.com/shorts/8xqnvCaJ3kc",
        "https://www.youtube.com/embed/8xqnvCaJ3kc",
        "https://m.youtube.com/watch?v=8xqnvCaJ3kc&list=PL123",
        "www.youtube.com/watch?v=8xqnvCaJ3kc",
    ],
)
def test_youtube_urls_share_one_key(url):
    assert media_key(url) == "yt-8xqnvCaJ3kc"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=../../etc",
        "https://youtu.be/../../etc/passwd",
        "https://www.youtube.com/watch?v=abc/../../x",
        "../../etc/passwd",
        "https://example.com/../../talk.mp3",
        "https://youtube.com/playlist?list=PLxyz",
    ],
)
def test_hostile_urls_get_a_hashed_key(url):
    key = media_key(url)
    assert re.fullmatch(r"(url|file)-[0-9a-f]{16}", key), key


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=200))
def test_a_key_is_always_a_plain_file_name(text):
    key = media_key(text)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", key)
    assert media_key(text) == key
    assert Cache(Path("/cache")).media_dir(key).parent == Path("/cache/media")


def test_media_dir_refuses_an_unsafe_key():
    with pytest.raises(ValueError):
        Cache(Path("/cache")).media_dir("../etc")


# -- downloading real audio --------------------------------------------------------------


@pytest.mark.parametrize("name", ["jfk.mp3", "jfk.ogg", "jfk.m4a", "jfk.webm", "jfk.flac", "jfk.wav"])
def test_download_and_prepare_real_speech(media_server, speech_media, tmp_path, name):
    url = media_server.url(name)
    seen: list[tuple[int, int | None]] = []
    media = download(url, Cache(tmp_path), options(), progress=lambda done, total: seen.append((done, total)))

    size = (speech_media / name).stat().st_size
    assert not media.from_cache
    assert media.key == media_key(url) and media.path.parent == Cache(tmp_path).media_dir(media.key)
    assert media.path.read_bytes() == (speech_media / name).read_bytes()
    assert seen and seen[-1] == (size, size)
    record = json.loads((media.path.parent / RECORD_NAME).read_text())
    assert record["url"] == url and record["file"] == media.path.name and record["size"] == size
    assert sorted(p.name for p in media.path.parent.iterdir()) == sorted([media.path.name, RECORD_NAME])

    prepared = prepare(media.path, tmp_path / "audio" / f"{media.key}.wav")
    assert prepared.duration == pytest.approx(JFK_SECONDS, abs=0.06)

    # The second time the cache answers: not one request reaches the server.
    hits = dict(media_server.hits)
    again = download(url, Cache(tmp_path), options())
    assert again.from_cache and again.path == media.path
    assert dict(media_server.hits) == hits
    assert cached_media(url, Cache(tmp_path)) == again


def test_nothing_is_cached_before_a_download(media_server, tmp_path):
    assert cached_media(media_server.url("jfk.mp3"), Cache(tmp_path)) is None


def test_a_file_without_its_record_is_fetched_again(media_server, speech_media, tmp_path):
    # As after a power loss between yt-dlp's rename and our record: the file is not trusted.
    url = media_server.url("jfk.ogg")
    media = download(url, Cache(tmp_path), options())
    (media.path.parent / RECORD_NAME).unlink()
    media.path.write_bytes(b"\0" * 1000)
    assert cached_media(url, Cache(tmp_path)) is None
    again = download(url, Cache(tmp_path), options())
    assert not again.from_cache
    assert again.path.read_bytes() == (speech_media / "jfk.ogg").read_bytes()


def test_a_cut_connection_leaves_nothing_usable_and_the_next_run_resumes(media_server, speech_media, tmp_path):
    url = media_server.url("jfk.flac")
    size = (speech_media / "jfk.flac").stat().st_size
    media_server.cut_after("jfk.flac", 100_000)
    with pytest.raises(DownloadError) as caught:
        download(url, Cache(tmp_path), options(retries=0))
    assert "connection lost before the download finished" in one_line(caught.value)
    assert not isinstance(caught.value, RateLimitedError)

    folder = Cache(tmp_path).media_dir(media_key(url))
    assert cached_media(url, Cache(tmp_path)) is None
    assert not (folder / RECORD_NAME).exists()
    assert [p.name for p in folder.iterdir()] == ["media.flac.part"]  # kept to resume, never used
    # All that arrived (urllib) or all but the last unwritten block (requests, which `ray` brings in:
    # yt-dlp then downloads through it): either way a resumable start.
    partial = (folder / "media.flac.part").stat().st_size
    assert 0 < partial <= 100_000

    media_server.clear_cuts()
    media = download(url, Cache(tmp_path), options(retries=0))
    assert media_server.range_requests["/jfk.flac"] == [f"bytes={partial}-"]  # resumed, not redone
    assert media.path.read_bytes() == (speech_media / "jfk.flac").read_bytes()
    assert media.path.stat().st_size == size
    assert prepare(media.path, tmp_path / "key.wav").duration == pytest.approx(JFK_SECONDS, abs=0.06)


def test_retries_heal_a_cut_within_one_call(media_server, speech_media, tmp_path):
    media_server.cut_after("jfk.wav", 50_000, times=2)  # the probe and the first download attempt
    media = download(media_server.url("jfk.wav"), Cache(tmp_path), options(retries=2))
    assert media.path.read_bytes() == (speech_media / "jfk.wav").read_bytes()


def test_a_killed_download_is_resumed_by_the_next_run(speech_media, tmp_path):
    with MediaServer(speech_media, throttle_bytes_per_s=150_000) as server:
        url = server.url("jfk.flac")
        part = Cache(tmp_path).media_dir(media_key(url)) / "media.flac.part"
        script = textwrap.dedent(f"""
            from pipeline.config import load_config
            from pipeline.cache import Cache
            from pipeline.download import download
            download({url!r}, Cache.at({str(tmp_path)!r}), load_config().download)
        """)
        child = subprocess.Popen([sys.executable, "-c", script])
        try:
            deadline = time.monotonic() + 60
            while not (part.is_file() and part.stat().st_size >= 64_000):
                assert child.poll() is None, "the download ended before it could be killed"
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.02)
        finally:
            child.kill()  # SIGKILL: no cleanup runs
            child.wait()
        kept = part.stat().st_size
        assert cached_media(url, Cache(tmp_path)) is None

        server.throttle_bytes_per_s = None
        media = download(url, Cache(tmp_path), options())
        assert server.range_requests["/jfk.flac"] == [f"bytes={kept}-"]
        assert media.path.read_bytes() == (speech_media / "jfk.flac").read_bytes()


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, reason",
    [
        ("status/404", NOT_FOUND),
        ("missing.mp3", NOT_FOUND),
        ("status/403", FORBIDDEN),
        ("page.html", NOT_MEDIA),
        ("status/500", "server error (HTTP 500)"),
    ],
)
def test_a_failed_download_is_one_line_and_leaves_no_entry(media_server, tmp_path, path, reason):
    url = media_server.url(path)
    with pytest.raises(DownloadError) as caught:
        download(url, Cache(tmp_path), options(retries=2))
    assert one_line(caught.value) == f"{reason} ({url})"
    assert caught.value.reason == reason and not isinstance(caught.value, RateLimitedError)
    assert not Cache(tmp_path).media_dir(media_key(url)).exists()
    # Only a transient failure is worth asking again.
    assert media_server.hits["/" + path] == (3 if path == "status/500" else 1)


def retry_waits(caplog) -> list[float]:
    return [float(m) for m in re.findall(r"retrying in ([\d.]+) s", caplog.text)]


def test_rate_limiting_backs_off_longer_then_says_how_to_slow_down(media_server, tmp_path, caplog):
    caplog.set_level("WARNING", logger="pipeline.download")
    url = media_server.url("status/429")
    with pytest.raises(RateLimitedError) as caught:
        download(url, Cache(tmp_path), options(retries=2, retry_wait=0.01))
    message = one_line(caught.value)
    assert message == f"{RATE_LIMITED} ({url})"
    assert "--sleep-requests" in message and "--cookies" in message
    assert media_server.hits["/status/429"] == 3
    assert retry_waits(caplog) == [0.04, 0.08]  # 4x the back-off of a network hiccup


def test_transient_errors_back_off_exponentially(media_server, tmp_path, caplog):
    caplog.set_level("WARNING", logger="pipeline.download")
    with pytest.raises(DownloadError):
        download(media_server.url("status/503"), Cache(tmp_path), options(retries=3, retry_wait=0.01))
    assert retry_waits(caplog) == [0.01, 0.02, 0.04]


def test_a_playlist_is_refused_before_anything_is_fetched(media_server, tmp_path):
    feed = media_server.root_dir / "feed.xml"
    items = "".join(
        f'<item><title>{name}</title><enclosure url="{media_server.url(name)}" type="audio/mpeg"/></item>'
        for name in ("jfk.mp3", "jfk.ogg")
    )
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>A podcast</title>{items}</channel></rss>')
    try:
        with pytest.raises(DownloadError) as caught:
            download(media_server.url("feed.xml"), Cache(tmp_path), options())
    finally:
        feed.unlink()
    assert one_line(caught.value).startswith(IS_PLAYLIST)
    assert media_server.hits["/jfk.mp3"] == media_server.hits["/jfk.ogg"] == 0


def test_corrupt_bytes_served_as_audio_fail_in_prepare_and_can_be_forgotten(media_server, tmp_path):
    junk = media_server.root_dir / "junk.mp3"
    junk.write_bytes(random.Random(7).randbytes(60_000))  # seeded: about 1 in 150 random files parse as a container
    try:
        url = media_server.url("junk.mp3")
        media = download(url, Cache(tmp_path), options())  # yt-dlp cannot tell: the server says audio/mpeg
        with pytest.raises(AudioError) as caught:
            prepare(media.path, tmp_path / "audio" / f"{media.key}.wav")
    finally:
        junk.unlink()
    assert one_line(caught.value).startswith("not audio, or corrupt")
    assert not (tmp_path / "audio" / f"{media.key}.wav").exists()
    remove_cached(media)
    assert cached_media(url, Cache(tmp_path)) is None


def test_an_unreachable_host_is_a_network_error(tmp_path):
    url = "http://127.0.0.1:9/talk.mp3"  # the discard port: nothing listens
    with pytest.raises(DownloadError) as caught:
        download(url, Cache(tmp_path), options(retries=1))
    assert one_line(caught.value).startswith("network error:")


# -- local files ----------------------------------------------------------------------------


def test_local_paths_and_file_urls_are_used_in_place(speech_media, tmp_path):
    source = speech_media / "jfk.m4a"
    for url in (str(source), source.as_uri()):
        media = download(url, Cache(tmp_path / "cache"), options())
        assert media.path == source.resolve() and media.key.startswith("file-") and media.from_cache
        assert cached_media(url, Cache(tmp_path / "cache")) == media
    assert not (tmp_path / "cache").exists()  # nothing copied, nothing created
    assert prepare(media.path, tmp_path / "key.wav").duration == pytest.approx(JFK_SECONDS, abs=0.06)


def test_a_changed_local_file_gets_a_new_key(speech_media, tmp_path):
    copy = tmp_path / "talk.mp3"
    copy.write_bytes((speech_media / "jfk.mp3").read_bytes())
    before = media_key(str(copy))
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    assert media_key(str(copy)) != before


@pytest.mark.parametrize("url", ["/no/such/talk.mp3", "file:///no/such/talk.mp3", "./missing.wav"])
def test_a_missing_local_file_is_a_clear_error(tmp_path, url):
    with pytest.raises(DownloadError) as caught:
        download(url, Cache(tmp_path), options())
    assert one_line(caught.value) == f"no such file ({url})"


# -- options --------------------------------------------------------------------------------


def test_a_bad_rate_limit_is_a_config_error(media_server, tmp_path):
    with pytest.raises(ConfigError, match=r'^\[download\] invalid rate limit "fast" given$'):
        check_options(options(rate_limit="fast"))
    with pytest.raises(ConfigError, match="rate limit"):
        download(media_server.url("jfk.mp3"), Cache(tmp_path), options(rate_limit="fast"))
    assert media_server.hits["/jfk.mp3"] == 0


def test_an_unknown_browser_is_a_config_error():
    with pytest.raises(ConfigError, match="unsupported browser"):
        check_options(options(cookies_from_browser="netscape"))
    check_options(options(cookies_from_browser="firefox", rate_limit="2M"))  # valid: no error


def test_a_missing_cookie_file_is_a_config_error(media_server, tmp_path):
    with pytest.raises(ConfigError, match="cookies"):
        download(media_server.url("jfk.mp3"), Cache(tmp_path), options(cookies=str(tmp_path / "cookies.txt")))


def test_pacing_and_speed_options_reach_yt_dlp(media_server, speech_media, tmp_path):
    # A real cap and real pauses: the download still completes with them in force.
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    media = download(
        media_server.url("jfk.ogg"),
        Cache(tmp_path),
        options(rate_limit="4M", sleep_requests=0.05, sleep_interval=0.05, cookies=str(cookies)),
    )
    assert media.path.read_bytes() == (speech_media / "jfk.ogg").read_bytes()


# -- YouTube's answers (YouTube is out of reach here: its real error texts, in yt-dlp's real classes) --


def _youtube_failure(message: str) -> Exception:
    """What YoutubeDL raises when its YouTube extractor gives up with ``message``."""
    import yt_dlp

    try:
        raise yt_dlp.utils.ExtractorError(message, expected=True, video_id="8xqnvCaJ3kc", ie="youtube")
    except yt_dlp.utils.ExtractorError as e:
        return yt_dlp.utils.DownloadError(f"ERROR: {e.msg}", sys.exc_info())


@pytest.mark.parametrize(
    "message, reason, error_class",
    [
        (
            "Private video. Sign in if you've been granted access to this video. Use --cookies-from-browser or "
            "--cookies for the authentication.",
            "private video",
            DownloadError,
        ),
        (
            "Video unavailable. This video has been removed by the uploader",
            "video unavailable or removed",
            DownloadError,
        ),
        ("Video unavailable", "video unavailable or removed", DownloadError),
        (
            "This video is no longer available because the YouTube account associated with this video has been "
            "terminated.",
            "video unavailable or removed",
            DownloadError,
        ),
        (
            "Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies for the authentication.",
            RATE_LIMITED,
            RateLimitedError,
        ),
        ("Video unavailable. This content isn't available.", RATE_LIMITED, RateLimitedError),
        (
            "This content isn't available, try again later. The current session has been rate-limited by YouTube "
            "for up to an hour.",
            RATE_LIMITED,
            RateLimitedError,
        ),
        (
            "Sign in to confirm your age. This video may be inappropriate for some users.",
            "age-restricted video: pass --cookies of a signed-in account",
            DownloadError,
        ),
        (
            "Requested format is not available. Use --list-formats for a list of available formats",
            "no format matches the configured [download] format",
            DownloadError,
        ),
        (
            "Join this channel to get access to members-only content like this video, and other exclusive perks.",
            "Join this channel to get access to members-only content like this video, and other exclusive perks.",
            DownloadError,
        ),
    ],
)
def test_youtube_answers_become_one_line_reasons(message, reason, error_class):
    from pipeline.download_errors import classify as _classify

    url = "https://www.youtube.com/watch?v=8xqnvCaJ3kc"
    error = _classify(url, _youtube_failure(message))
    assert type(error) is error_class
    assert error.reason == reason and one_line(error) == f"{reason} ({url})"
