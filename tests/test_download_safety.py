"""Downloads that cannot stall or hurt a batch: caps on size, duration and transfer time, host names
that do not resolve, and local media outside the folder given to ``run``.

The real yt-dlp against tests/mediaserver.py on 127.0.0.1 (its endless and slow routes), and
``python -m pipeline run`` in a subprocess for the batch-level checks.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import pytest
from pipeline import pages
from pipeline.cache import Cache
from pipeline.config import ConfigError, load_config
from pipeline.download import cached_media, check_options, download
from pipeline.download_caps import Caps
from pipeline.download_errors import ABSOLUTE_LOCAL, HOST_NOT_FOUND, IS_LIVE, DownloadError, DownloadLimitError
from pipeline.locations import local_media_path, media_key

from evalkit.mediaserver import MediaServer
from test_download import one_line, options
from test_run import make_page, run_cli

YOUTUBE_URL = "https://www.youtube.com/watch?v=8xqnvCaJ3kc"
YT_DLP_MAX_BLOCK_MB = 4  # yt-dlp reads a transfer in blocks that double up to 4 MB: a cap can be overshot by one


def assert_nothing_kept(cache: Path, url: str) -> None:
    """No record, no media, no resumable .part: the next run starts from nothing."""
    assert cached_media(url, Cache(cache)) is None
    assert not Cache(cache).media_dir(media_key(url)).exists()


# -- caps on one download -----------------------------------------------------------------------


def test_an_endless_stream_is_stopped_at_max_filesize_and_nothing_is_kept_to_resume(media_server, tmp_path):
    url = media_server.url("endless/jfk.mp3")
    with pytest.raises(DownloadLimitError) as caught:
        download(url, Cache(tmp_path), options(max_filesize="1M", retries=3))
    stopped = re.fullmatch(
        r"stopped at (\d\.\d) MB: larger than \[download\] max_filesize \(1M\) \(" + re.escape(url) + r"\)",
        one_line(caught.value),
    )
    assert stopped, caught.value
    assert 1.0 <= float(stopped.group(1)) <= 1.0 + YT_DLP_MAX_BLOCK_MB  # stopped at the first block past the cap
    assert_nothing_kept(tmp_path, url)
    assert media_server.hits["/endless/jfk.mp3"] == 2  # yt-dlp's probe and one transfer: a cap is not retried

    # The next run starts again from the first byte (nothing to resume) and is stopped again.
    with pytest.raises(DownloadLimitError):
        download(url, Cache(tmp_path), options(max_filesize="1M"))
    assert media_server.range_requests["/endless/jfk.mp3"] == []
    assert_nothing_kept(tmp_path, url)


def test_a_file_whose_length_is_over_max_filesize_is_stopped_at_its_first_block(media_server, speech_media, tmp_path):
    url = media_server.url("jfk.flac")
    size_mb = (speech_media / "jfk.flac").stat().st_size / 1024**2
    assert size_mb > 1.0
    with pytest.raises(DownloadLimitError) as caught:
        download(url, Cache(tmp_path), options(max_filesize="1M"))
    assert caught.value.reason == f"{size_mb:.1f} MB: larger than [download] max_filesize (1M)"
    assert_nothing_kept(tmp_path, url)


def test_a_trickling_download_is_stopped_at_max_transfer_seconds(media_server, tmp_path):
    url = media_server.url("slow/4000/jfk.mp3")  # 4 kB/s: the whole file would take 45 s
    with pytest.raises(DownloadLimitError) as caught:
        download(url, Cache(tmp_path), options(max_transfer_seconds=1.0, retries=3))
    assert re.fullmatch(
        r"stopped after \d+ s at \d+(\.\d)? kB: slower than \[download\] max_transfer_seconds \(1 s\) allows",
        caught.value.reason,
    ), caught.value.reason
    assert_nothing_kept(tmp_path, url)
    assert media_server.hits["/slow/4000/jfk.mp3"] == 2  # not retried


def test_the_default_caps_let_a_normal_download_through(media_server, speech_media, tmp_path):
    defaults = load_config().download
    assert defaults.max_filesize and defaults.max_duration >= 4 * 3600 and defaults.max_transfer_seconds > 0
    media = download(media_server.url("jfk.flac"), Cache(tmp_path), defaults)
    assert media.path.read_bytes() == (speech_media / "jfk.flac").read_bytes()


def youtube_info(**fields) -> dict:
    """The fields of a YouTube info dict (after format selection) that the caps read; YouTube is out of reach here."""
    return {
        "id": "8xqnvCaJ3kc",
        "title": "A webinar",
        "extractor": "youtube",
        "duration": 5400,
        "is_live": False,
        "format_id": "251",
        "ext": "webm",
        "filesize": 82_000_000,
        **fields,
    }


@pytest.mark.parametrize(
    "fields, reason",
    [
        (
            {"duration": 8 * 3600},
            "8:00:00 long: longer than [download] max_duration (21600 s = 6:00:00)",
        ),
        (
            {"filesize": None, "filesize_approx": 3 * 1024**3},
            "3.0 GB: larger than [download] max_filesize (2G)",
        ),
        ({"is_live": True, "duration": None}, IS_LIVE),
    ],
)
def test_metadata_over_a_cap_is_refused_before_any_byte_is_fetched(fields, reason):
    caps = Caps.of(load_config().download)
    caps.check_metadata(YOUTUBE_URL, youtube_info())  # a 90-minute talk passes
    with pytest.raises(DownloadLimitError) as caught:
        caps.check_metadata(YOUTUBE_URL, youtube_info(**fields))
    assert caught.value.reason == reason and one_line(caught.value) == f"{reason} ({YOUTUBE_URL})"


def test_zero_switches_a_cap_off():
    caps = Caps.of(options(max_filesize="", max_duration=0.0, max_transfer_seconds=0.0))
    caps.check_metadata(YOUTUBE_URL, youtube_info(duration=100 * 3600, filesize=50 * 1024**3))
    caps.check_transfer(YOUTUBE_URL, 50 * 1024**3, None)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"max_filesize": "huge"}, r"^\[download\] max_filesize: 'huge' is not a size \(e\.g\. 2G, 500M\)$"),
        ({"max_transfer_seconds": -1.0}, r"^\[download\] max_transfer_seconds: must be 0 \(no cap\) or more, not -1$"),
        ({"max_duration": -5.0}, r"^\[download\] max_duration: must be 0 \(no cap\) or more, not -5$"),
    ],
)
def test_a_bad_cap_is_a_config_error_before_any_download(media_server, tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        check_options(options(**changes))
    with pytest.raises(ConfigError):
        download(media_server.url("jfk.mp3"), Cache(tmp_path), options(**changes))
    assert media_server.hits["/jfk.mp3"] == 0


def test_capped_downloads_fail_their_pages_and_the_batch_goes_on(tmp_path, speech_media):
    config = tmp_path / "caps.toml"
    # The slow page would take 90 s; the normal one takes well under a second from its first byte.
    config.write_text('[download]\nmax_filesize = "1M"\nmax_transfer_seconds = 8.0\n')
    site, cache, report = tmp_path / "site", tmp_path / "cache", tmp_path / "report.json"
    site.mkdir()
    with MediaServer(speech_media) as server:
        endless = make_page(site / "01-endless.md", server.url("endless/jfk.mp3"), [])
        slow = make_page(site / "02-slow.md", server.url("slow/2000/jfk.mp3"), [])
        normal = make_page(site / "03-normal.md", server.url("jfk.mp3"), ["00:00 Inauguration"])
        result = run_cli(str(site), "--config", str(config), "--cache-dir", str(cache), "--report", str(report))
        hits, normal_url = dict(server.hits), server.url("jfk.mp3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    entries = {Path(p["path"]).name: p for p in json.loads(report.read_text())["pages"]}
    assert entries[endless.name]["status"] == "failed"
    assert re.match(
        r"download: stopped at \d\.\d MB: larger than \[download\] max_filesize \(1M\) \(http://127\.0\.0\.1:\d+/",
        entries[endless.name]["error"],
    ), entries[endless.name]["error"]
    assert entries[slow.name]["status"] == "failed"
    assert re.match(
        r"download: stopped after \d+ s at [\d.]+ kB: slower than \[download\] max_transfer_seconds \(8 s\) allows",
        entries[slow.name]["error"],
    ), entries[slow.name]["error"]
    assert entries[normal.name]["status"] == "done"
    assert "ask not what your country" in (pages.read_transcript(normal) or "").lower()
    # Neither capped page was retried, and the cache holds the one finished download only.
    assert hits["/endless/jfk.mp3"] == 2 and hits["/slow/2000/jfk.mp3"] == 2
    assert [p.name for p in (cache / "media").iterdir()] == [media_key(normal_url)]
    assert cached_media(normal_url, Cache(cache)) is not None
    assert not list(cache.rglob("*.part"))
    for page in (endless, slow):
        assert pages.read_page(page).state == pages.NEEDS_TRANSCRIPT


# -- host names that do not resolve ---------------------------------------------------------------


@pytest.fixture
def offline_resolver(monkeypatch):
    """The system resolver, except that any name but the loopback's fails as glibc does offline, without
    sending a query: no traffic leaves the machine. Returns the list of names asked for."""
    real = socket.getaddrinfo
    asked: list[str] = []
    failure = {"error": socket.gaierror(socket.EAI_NONAME, "Name or service not known")}

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        asked.append(name)
        if name in ("127.0.0.1", "localhost", "::1"):
            return real(host, *args, **kwargs)
        raise failure["error"]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked, failure


@pytest.mark.parametrize(
    "errno, text",
    [
        (socket.EAI_NONAME, "Name or service not known"),
        (socket.EAI_AGAIN, "Temporary failure in name resolution"),
    ],
)
def test_a_host_name_that_does_not_resolve_fails_at_once(offline_resolver, tmp_path, caplog, errno, text):
    asked, failure = offline_resolver
    failure["error"] = socket.gaierror(errno, text)
    caplog.set_level("WARNING", logger="pipeline.download")
    url = "http://nonexistent.invalid/x.mp3"  # .invalid is reserved: it never resolves
    with pytest.raises(DownloadError) as caught:
        download(url, Cache(tmp_path), options(retries=3))
    assert one_line(caught.value) == f"{HOST_NOT_FOUND} ({url})"
    assert asked.count("nonexistent.invalid") == 1  # one attempt, not four
    assert "retrying" not in caplog.text
    assert_nothing_kept(tmp_path, url)


def test_a_refused_connection_is_still_retried(offline_resolver, tmp_path, caplog):
    # The other side of the rule: a network error that may heal is asked again.
    caplog.set_level("WARNING", logger="pipeline.download")
    with pytest.raises(DownloadError) as caught:
        download("http://127.0.0.1:9/talk.mp3", Cache(tmp_path), options(retries=2))
    assert caught.value.reason.startswith("network error:")
    assert caplog.text.count("retrying in") == 2


# -- local media stays inside the folder given to run --------------------------------------------


@pytest.fixture
def tree(tmp_path, jfk_flac) -> dict[str, Path]:
    """site/ (the folder given to run) with a page and its media, and a file outside it."""
    site = tmp_path / "site"
    (site / "media").mkdir(parents=True)
    (site / "talks").mkdir()
    outside = tmp_path / "private"
    outside.mkdir()
    shutil.copy(jfk_flac, site / "media" / "jfk.flac")
    shutil.copy(jfk_flac, outside / "secret.flac")
    (site / "media" / "link-out.flac").symlink_to(outside / "secret.flac")
    (site / "media" / "link-in.flac").symlink_to(site / "media" / "jfk.flac")
    (site / "private-dir").symlink_to(outside, target_is_directory=True)
    return {"site": site, "page": site / "01-page.md", "outside": outside, "secret": outside / "secret.flac"}


@pytest.mark.parametrize(
    "value", ["media/jfk.flac", "./media/jfk.flac", "talks/../media/jfk.flac", "media/link-in.flac"]
)
def test_local_media_inside_the_tree_is_accepted(tree, value):
    found = local_media_path(value, tree["page"], tree["site"])
    assert found == (tree["site"] / "media" / "jfk.flac").resolve()


def test_the_page_folder_is_the_start_of_a_relative_path(tree):
    page = tree["site"] / "talks" / "02-page.md"
    assert local_media_path("../media/jfk.flac", page, tree["site"]) == (tree["site"] / "media" / "jfk.flac").resolve()
    with pytest.raises(DownloadError):  # given alone, a page's tree is its own folder
        local_media_path("../media/jfk.flac", page, page.parent)


@pytest.mark.parametrize(
    "value, why",
    [
        ("../private/secret.flac", "outside"),
        ("media/../../private/secret.flac", "outside"),
        ("media/link-out.flac", "outside"),
        ("private-dir/secret.flac", "outside"),
        ("{secret}", "absolute"),
        ("file://{secret}", "absolute"),
        ("~/secret.flac", "absolute"),
    ],
)
def test_local_media_outside_the_tree_is_refused_naming_the_path(tree, value, why):
    value = value.format(secret=tree["secret"])
    with pytest.raises(DownloadError) as caught:
        local_media_path(value, tree["page"], tree["site"])
    message = one_line(caught.value)
    assert message.endswith(f"({value})")
    if why == "absolute":
        assert caught.value.reason == ABSOLUTE_LOCAL
    else:
        target, site = tree["secret"].resolve(), tree["site"].resolve()
        assert caught.value.reason == f"resolves to {target}, outside {site}, the folder given to run: refused"


def test_local_media_outside_the_tree_fails_its_page_and_is_never_read(tree, tmp_path):
    site, secret = tree["site"], tree["secret"]
    refused = {
        "01-absolute.md": str(secret),
        "02-dotdot.md": "../private/secret.flac",
        "03-symlink.md": "media/link-out.flac",
    }
    made = {name: make_page(site / name, value, ["00:00 Inauguration"]) for name, value in refused.items()}
    normal = make_page(site / "04-normal.md", "media/jfk.flac", ["00:00 Inauguration"])
    nested = make_page(site / "talks" / "05-nested.md", "../media/jfk.flac", ["00:00 Inauguration"])
    before = {name: page.read_bytes() for name, page in made.items()}
    cache, report = tmp_path / "cache", tmp_path / "report.json"

    result = run_cli(str(site), "--cache-dir", str(cache), "--report", str(report))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    entries = {Path(p["path"]).name: p for p in json.loads(report.read_text())["pages"]}
    for name, value in refused.items():
        entry = entries[name]
        assert entry["status"] == "failed" and entry["error"].startswith("download: ")
        assert entry["error"].endswith(f"({value})")
        expected = ABSOLUTE_LOCAL if name == "01-absolute.md" else "the folder given to run: refused"
        assert expected in entry["error"], entry["error"]
        assert made[name].read_bytes() == before[name]
    assert entries[normal.name]["status"] == "done" and entries[nested.name]["status"] == "done"
    assert "ask not what your country" in (pages.read_transcript(normal) or "").lower()
    # Only the file inside the tree was read: one media key, transcribed for its two pages' contexts.
    keys = {p.parent.name for p in cache.glob("transcripts/*/*.json")}
    assert keys == {media_key(str((site / "media" / "jfk.flac").resolve()))}
    assert media_key(str(secret)) not in keys

    # Given alone, the nested page's tree is its own folder: ../media is outside it.
    alone = run_cli(str(nested), "--force", "--cache-dir", str(cache), "--report", str(report))
    assert alone.returncode == 1, alone.stdout + alone.stderr
    [entry] = json.loads(report.read_text())["pages"]
    assert (
        entry["status"] == "failed"
        and "the folder given to run: refused" in entry["error"]
        and entry["error"].endswith("(../media/jfk.flac)")
    )
