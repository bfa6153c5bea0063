"""The review page: the draft model, the server, and the page in a real browser.

Real speech (the bundled example, transcribed once per session by the real tiny.en),
Debian's chromium driven by Playwright, the server on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from pipeline import pages
from pipeline.config import load_config
from pipeline.draft import Word, paragraph_markdown, parse_draft
from pipeline.review import PageChangedError, ReviewError, align_words, open_review, save_edits
from pipeline.review_server import ReviewServer

import reviewlib  # scripts/ (pytest's pythonpath): shared with the screenshot and the benchmark

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def drafted(tmp_path_factory) -> tuple[Path, Path]:
    """(a page with the real pipeline's draft holding [?] flags, the cache holding its words)."""
    folder = tmp_path_factory.mktemp("review-example")
    config = folder / "flags.toml"
    config.write_text(reviewlib.LOW_FLAG_THRESHOLDS, encoding="utf-8")
    cache = folder / "cache"
    page = reviewlib.drafted_example(folder / "pages", cache, flag_config=config)
    assert "[?]<!-- check" in page.read_text(encoding="utf-8")
    return page, cache


@pytest.fixture
def page(drafted, tmp_path) -> Path:
    """A fresh copy of the drafted page beside it (same video, so the same cached words)."""
    copy = drafted[0].with_name(f"{tmp_path.name}-{drafted[0].name}")
    shutil.copyfile(drafted[0], copy)
    return copy


@pytest.fixture
def cache(drafted) -> Path:
    return drafted[1]


def outside_transcript(data: bytes) -> tuple[bytes, bytes]:
    """The bytes before the draft's first marker and after its end marker."""
    start = data.index(b"<!-- du-transcripts draft v1;")
    end = data.index(b"<!-- /du-transcripts draft -->") + len(b"<!-- /du-transcripts draft -->")
    return data[:start], data[end:]


# --------------------------------------------------------------------------- the draft model, no browser


DRAFT_NEW_FORMS = """*Machine-generated draft (faster-whisper, model tiny.en, 2026-12-01) for human cleanup.*

### Intro to Terminal (00:14)

#### Shortcuts (1:02:03)

**Speaker 1:** Alright, great [?](https://youtu.be/abcdefghijk?t=754)<!-- check 12:34: low confidence --> thanks.

4\\. To eject, press the key [?]<!-- check 00:20: repetition --> now.

*(No speech in this part.)*
"""


def test_parse_draft_reads_headings_labels_and_both_flag_forms():
    blocks = parse_draft(DRAFT_NEW_FORMS)
    assert [b.kind for b in blocks] == ["note", "heading", "heading", "paragraph", "paragraph", "note"]
    assert (blocks[1].level, blocks[1].start) == (3, 14.0)
    assert (blocks[2].level, blocks[2].start) == (4, 3723.0)
    labelled, escaped = blocks[3], blocks[4]
    assert labelled.speaker == "Speaker 1"
    assert [w.text for w in labelled.words] == ["Alright,", "great", "thanks."]
    marks = [i for i in labelled.items if not isinstance(i, Word)]
    assert (marks[0].reason, marks[0].time) == ("low confidence", 754.0)
    assert escaped.words[0].text == "4." and escaped.speaker is None
    # Written back unchanged, each paragraph is its own Markdown again (escape and flag markup included).
    assert paragraph_markdown(labelled) == DRAFT_NEW_FORMS.splitlines()[6]
    assert paragraph_markdown(escaped) == DRAFT_NEW_FORMS.splitlines()[8]


def test_a_hand_edited_draft_still_gets_times_from_the_best_alignment():
    model = [
        (0.0, 0.4, " Hello"),
        (0.5, 0.9, " every"),
        (1.0, 1.4, " body,"),
        (2.0, 2.5, " welcome"),
        (3.0, 3.5, " all"),
    ]
    draft = [Word(t) for t in ["Hello", "everybody,", "and", "welcome", "to", "all."]]
    align_words(draft, model, duration=5.0)
    assert (draft[0].start, draft[3].start, draft[5].start) == (0.0, 2.0, 3.0)  # the words the model said
    assert 0.4 <= draft[1].start < draft[2].start < 2.0  # a respelt and an added word: between their neighbours
    assert 2.5 <= draft[4].start < 3.0
    assert all(a.start <= b.start for a, b in zip(draft, draft[1:], strict=False))


def test_save_keeps_every_byte_outside_the_draft_and_crlf(page, cache):
    crlf = page.read_bytes().replace(b"\n", b"\r\n")
    page.write_bytes(crlf)
    session = open_review(page, load_config(), cache_dir=cache)
    first = next(i for i, b in enumerate(session.blocks) if b.kind == "paragraph")
    save_edits(session, {first: "**Sam:** Hey everybody, welcome to Data Umbrella."})
    after = page.read_bytes()
    assert outside_transcript(after) == outside_transcript(crlf)
    assert b"\r\n**Sam:** Hey everybody, welcome to Data Umbrella.\r\n" in after
    assert after.count(b"\n") == after.count(b"\r\n")  # still CRLF throughout
    assert pages.read_page(page).state == pages.HAS_TRANSCRIPT  # human-edited: `run --force` leaves it alone
    page.write_bytes(after + b"\r\nA line added by someone else.\r\n")
    with pytest.raises(PageChangedError):
        save_edits(session, {first: "Another edit."})


def test_review_refuses_pages_without_a_draft(tmp_path, cache):
    empty = tmp_path / "02-empty.md"
    empty.write_text(reviewlib.EXAMPLE_PAGE.read_text(encoding="utf-8"))
    with pytest.raises(ReviewError, match="no draft to review"):
        open_review(empty, load_config(), cache_dir=cache)
    human = tmp_path / "03-human.md"
    human.write_text(empty.read_text() + "\nSam: hello everyone, this I typed myself.\n")
    with pytest.raises(ReviewError, match="human transcript"):
        open_review(human, load_config(), cache_dir=cache)


def test_review_transcribes_when_the_cache_lacks_the_words(page, tmp_path):
    before = page.read_bytes()
    session = open_review(page, load_config(), cache_dir=tmp_path / "empty-cache")
    words = [w for b in session.blocks if b.kind == "paragraph" for w in b.words]
    assert words and words[-1].end > 40  # the 50-second talk, timed by a fresh transcription
    assert page.read_bytes() == before  # transcribing for the review never touches the page


# --------------------------------------------------------------------------- the server over HTTP


def _request(server: ReviewServer, path: str, *, host: str | None = None, headers: dict | None = None):
    netloc = urllib.parse.urlsplit(server.url).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    connection.putrequest("GET", path, skip_host=True)  # the raw path: no client-side normalisation of '..'
    connection.putheader("Host", host or netloc)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_server_refuses_without_the_token_and_serves_nothing_else_of_the_disk(page, cache):
    session = open_review(page, load_config(), cache_dir=cache)
    with ReviewServer(session) as server:
        token = server.token
        assert _request(server, f"/{token}/")[0] == 200
        assert _request(server, "/")[0] == 403
        assert _request(server, f"/{token[:-1]}x/draft.json")[0] == 403
        assert _request(server, "/draft.json")[0] == 403
        assert _request(server, f"/{token}/../../../etc/passwd")[0] == 404
        assert _request(server, f"/{token}/%2e%2e/%2e%2e/etc/passwd")[0] == 404
        assert _request(server, f"/{token}/audio/1")[0] == 404  # only this page's one video
        assert _request(server, f"/{token}/{page.name}")[0] == 404
        assert _request(server, f"/{token}/", host="evil.example:80")[0] == 403  # DNS rebinding
        status, headers, body = _request(server, f"/{token}/audio/0", headers={"Range": "bytes=100-199"})
        media = session.media[0].path.read_bytes()
        assert status == 206 and body == media[100:200]
        assert headers["Content-Range"] == f"bytes 100-199/{len(media)}"


# --------------------------------------------------------------------------- the page in chromium


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("DU_REVIEW_NO_BROWSER") == "1":
        pytest.skip("scripts/test.sh could not install chromium (no apt for this user): browser tests skipped")
    if not Path(reviewlib.CHROMIUM).is_file():
        pytest.fail(f"{reviewlib.CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = reviewlib.launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def review(page, cache, browser):
    """(the browser tab showing the review page, the server)."""
    session = open_review(page, load_config(), cache_dir=cache)
    context = browser.new_context()
    tab = context.new_page()
    with ReviewServer(session) as server:
        tab.goto(server.url)
        tab.wait_for_selector("body[data-ready='1']")
        yield tab, server
        context.close()


def test_the_page_shows_the_draft_with_every_word_timed(review, page):
    tab, _ = review
    body = pages.read_transcript(page)
    assert tab.title() == "Review: Sam Bail: Intro to Terminal (example)"
    assert tab.locator("h3").all_inner_texts() == [
        "Introduction (00:00)",
        "Intro to Terminal (00:14)",
        "Helpful shortcuts (00:37)",
    ]
    spoken = [b for b in parse_draft(body) if b.kind == "paragraph"]
    assert tab.locator(".w").count() == sum(len(b.words) for b in spoken)
    times = tab.eval_on_selector_all(".w", "els => els.map(e => [Number(e.dataset.start), Number(e.dataset.end)])")
    assert all(0 <= s <= e <= 51 for s, e in times) and times[-1][0] > 40
    assert "Esc" in tab.inner_text("#keys") and "next flag" in tab.inner_text("#keys")
    flagged = tab.locator(".w.flagged").first
    assert flagged.get_attribute("title") == "low confidence"


def test_clicking_a_word_plays_from_its_start_and_current_follows(review):
    tab, _ = review
    word = tab.locator(".w", has_text="Terminal").first
    start = float(word.get_attribute("data-start"))
    assert start > 14
    word.click()
    tab.wait_for_function("() => !document.getElementById('audio').paused")
    now = tab.evaluate("document.getElementById('audio').currentTime")
    assert start - 0.05 <= now < start + 1.5
    first = tab.eval_on_selector(".w.current", "e => Number(e.dataset.start)")
    tab.wait_for_function(f"() => Number(document.querySelector('.w.current').dataset.start) > {first + 1}")
    current, played = tab.evaluate(
        "[Number(document.querySelector('.w.current').dataset.start), document.getElementById('audio').currentTime]"
    )
    assert current <= played + 0.05 and tab.locator(".w.current").count() == 1


def test_next_and_previous_flag_jump_to_flagged_words(review):
    tab, _ = review
    tab.keyboard.press("Control+Period")
    first = tab.locator(".w.at-flag")
    assert "flagged" in first.get_attribute("class")
    start = float(first.get_attribute("data-start"))
    assert abs(tab.evaluate("document.getElementById('audio').currentTime") - start) < 1.0
    tab.keyboard.press("Escape")  # pause
    tab.keyboard.press("Control+Period")
    second = float(tab.locator(".w.at-flag").get_attribute("data-start"))
    assert second > start
    tab.keyboard.press("Control+Comma")
    assert float(tab.locator(".w.at-flag").get_attribute("data-start")) == start
    tab.keyboard.press("Control+ArrowUp")
    tab.keyboard.press("Control+ArrowUp")
    tab.keyboard.press("Control+ArrowUp")
    assert tab.evaluate("document.getElementById('audio').playbackRate") == 1.5


def _type_at_end_of_first_paragraph(tab, text: str) -> None:
    tab.locator("p.para").first.locator(".w").last.click()
    tab.keyboard.press("Escape")
    tab.keyboard.press("End")
    tab.keyboard.type(text)


def test_an_edit_saved_with_ctrl_s_lands_in_the_page_only(review, page):
    tab, _ = review
    before = page.read_bytes()
    _type_at_end_of_first_paragraph(tab, " Edited by a human.")
    tab.keyboard.press("Control+S")
    tab.wait_for_function("() => document.getElementById('status').textContent.startsWith('saved')")
    after = page.read_bytes()
    assert outside_transcript(after) == outside_transcript(before)
    assert "at the end. Edited by a human." in pages.read_transcript(page)
    assert pages.read_page(page).state == pages.HAS_TRANSCRIPT
    assert before.count(b"[?]<!-- check") == after.count(b"[?]<!-- check")  # the flags kept as they were


def test_a_reload_keeps_unsaved_edits(review):
    tab, _ = review
    _type_at_end_of_first_paragraph(tab, " Not saved yet.")
    tab.wait_for_timeout(400)  # the edits are kept 250 ms after the last key
    tab.reload()
    tab.wait_for_selector("body[data-ready='1']")
    assert tab.locator("p.para").first.inner_text().endswith("Not saved yet.")
    assert "restored 1 unsaved paragraph" in tab.inner_text("#status")


def test_saving_over_a_page_changed_on_disk_refuses_visibly(review, page):
    tab, _ = review
    page.write_bytes(page.read_bytes() + b"\nSomeone else's line.\n")
    changed = page.read_bytes()
    _type_at_end_of_first_paragraph(tab, " Mine.")
    tab.locator("#save").click()
    tab.wait_for_selector("#status.error")
    assert "changed on disk" in tab.inner_text("#status")
    assert page.read_bytes() == changed


def test_renaming_a_speaker_renames_it_in_the_whole_draft(page, cache, browser):
    body = pages.read_transcript(page)
    paragraphs = [b for b in parse_draft(body) if b.kind == "paragraph"]
    labelled = body
    for block in paragraphs:
        labelled = labelled.replace(block.raw, "**Speaker 1:** " + block.raw, 1)
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace(body, labelled), encoding="utf-8")
    session = open_review(page, load_config(), cache_dir=cache)
    context = browser.new_context()
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept("Sam Bail"))
    with ReviewServer(session) as server:
        tab.goto(server.url)
        tab.wait_for_selector("body[data-ready='1']")
        tab.locator(".speaker").first.click()
        tab.keyboard.press("Control+S")
        tab.wait_for_function("() => document.getElementById('status').textContent.startsWith('saved')")
    context.close()
    saved = pages.read_transcript(page)
    assert "Speaker 1" not in saved and saved.count("**Sam Bail:** ") == len(paragraphs)


# --------------------------------------------------------------------------- the command line


def _review_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "review", "--no-browser", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_cli_prints_the_url_serves_and_stops_cleanly_on_ctrl_c(page, cache):
    process = _review_cli(str(page), "--cache-dir", str(cache))
    try:
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        netloc = urllib.parse.urlsplit(url).netloc
        assert netloc.startswith("127.0.0.1:")
        connection = http.client.HTTPConnection(netloc, timeout=10)
        connection.request("GET", urllib.parse.urlsplit(url).path + "draft.json")
        assert connection.getresponse().status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.strip() == "review stopped" and err == ""


def test_cli_bad_input_is_one_line_exit_1_and_no_server(tmp_path, page, cache):
    needs = tmp_path / "04-needs.md"
    needs.write_text(reviewlib.EXAMPLE_PAGE.read_text(encoding="utf-8"))
    missing_media = tmp_path / "05-gone.md"
    missing_media.write_text(page.read_text(encoding="utf-8").replace(".ogg", "-gone.ogg"))
    for bad in (needs, missing_media, tmp_path / "06-no-such-page.md"):
        process = _review_cli(str(bad), "--cache-dir", str(cache))
        out, err = process.communicate(timeout=120)
        assert process.returncode == 1, (bad, err)
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_the_review_page_ships_in_the_wheel(tmp_path):
    build = [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", str(tmp_path)]
    result = subprocess.run(build, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for name in ("review.html", "review.js", "review.css"):
        assert f"pipeline/review_static/{name}" in names


# --------------------------------------------------------------------------- hostile requests (issue 17)


def _raw(server: ReviewServer, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are; (the status, the body) of the answer (0 when none came)."""
    import socket

    netloc = urllib.parse.urlsplit(server.url).netloc
    host, port = netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1."):
        return 0, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _post(server: ReviewServer, body: bytes, headers: dict[str, str | None] | None = None) -> tuple[int, bytes]:
    """POST a save as raw bytes; ``headers`` replace the usual ones (None: leave that header out)."""
    netloc = urllib.parse.urlsplit(server.url).netloc
    fields = {"Host": netloc, "Content-Type": "application/json", "Content-Length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in {**fields, **(headers or {})}.items() if v is not None)
    return _raw(server, f"POST /{server.token}/save HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode() + body)


def _save_body(draft_hash: str, paragraphs: dict) -> bytes:
    import json

    return json.dumps({"draftHash": draft_hash, "paragraphs": paragraphs}).encode()


def test_malformed_requests_get_a_4xx_and_one_line_json_never_a_traceback(page, cache, capfd):
    import json

    session = open_review(page, load_config(), cache_dir=cache)
    before = page.read_bytes()
    first = next(i for i, b in enumerate(session.blocks) if b.kind == "paragraph")
    digits = "9" * 5000
    with ReviewServer(session) as server:
        netloc, token = urllib.parse.urlsplit(server.url).netloc, server.token

        def get(path: str, extra: str = "") -> tuple[int, bytes]:
            return _raw(
                server, f"GET /{token}/{path} HTTP/1.1\r\nHost: {netloc}\r\n{extra}Connection: close\r\n\r\n".encode()
            )

        answers = {
            "Content-Length: abc": _post(server, b"{}", {"Content-Length": "abc"}),
            "Content-Length of thousands of digits": _post(server, b"{}", {"Content-Length": digits}),
            "a 15 MB save": _post(server, b"", {"Content-Length": str(15 * 1024 * 1024)}),
            "Range: bytes=<5000 digits>-": get("audio/0", f"Range: bytes={digits}-\r\n"),
            "audio/<5000 digits>": get(f"audio/{digits}"),
            "audio/² (a Unicode digit)": get("audio/%C2%B2"),
            "JSON nested 100,000 deep": _post(server, b'{"draftHash": "x", "paragraphs": ' + b"[" * 100_000),
            "a lone surrogate": _post(server, _save_body(session.draft_hash, {str(first): "\ud800 x"})),
            "a paragraph id of 5000 digits": _post(server, _save_body(session.draft_hash, {digits: "x"})),
            "a paragraph that is a list": _post(server, _save_body(session.draft_hash, {str(first): ["x"]})),
            "a heading's id": _post(server, _save_body(session.draft_hash, {"0": "x"})),
            "no draftHash": _post(server, json.dumps({"paragraphs": {str(first): "x"}}).encode()),
            "a page past 5 MB": _post(server, _save_body(session.draft_hash, {str(first): "word " * 1_200_000})),
            "PUT": _raw(server, f"PUT /{token}/save HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: 0\r\n\r\n".encode()),
            "a garbage request line": _raw(server, b"\x00\xff garbage\r\n\r\n"),
            "a request line of 70,000 bytes": get("x" * 70_000),
            "a header of 70,000 bytes": get("draft.json", f"X-Long: {'x' * 70_000}\r\n"),
            "Range: bytes=5-2": get("audio/0", "Range: bytes=5-2\r\n"),
        }
        assert get("audio/0", f"Range: bytes=0-{digits}\r\n")[0] == 206  # an end past the file: to its end
    for case, (status, body) in answers.items():
        assert 400 <= status < 500, (case, status, body[:200])
        error = json.loads(body)["error"]
        assert error and "\n" not in error, case
    assert answers["a 15 MB save"][0] == 413 and answers["a page past 5 MB"][0] == 422
    assert "5 MB" in json.loads(answers["a page past 5 MB"][1])["error"]
    assert page.read_bytes() == before
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "review:" not in err, err


def test_a_save_from_a_stale_draft_version_is_refused_with_409(page, cache):
    import json

    session = open_review(page, load_config(), cache_dir=cache)
    ids = [i for i, b in enumerate(session.blocks) if b.kind == "paragraph"]
    loaded = session.draft_hash
    with ReviewServer(session) as server:
        # Tab A splits the first paragraph (Enter): every later paragraph's id moves on by one.
        status, _ = _post(server, _save_body(loaded, {str(ids[0]): "Split here.\nA new paragraph from tab A."}))
        assert status == 200
        saved = page.read_bytes()
        # Tab B, loaded before A saved, edits a later paragraph by its old id; so does A's second Ctrl+S.
        status, answer = _post(server, _save_body(loaded, {str(ids[1]): "Tab B's edit."}))
        assert status == 409 and json.loads(answer)["stale"] is True  # the browser offers a reload
        assert _post(server, _save_body(loaded, {str(ids[0]): "Split here.\nA new paragraph from tab A."}))[0] == 409
    assert page.read_bytes() == saved
    assert pages.read_transcript(page).count("A new paragraph from tab A.") == 1


def test_any_save_request_is_answered_and_changes_the_draft_only(page, cache):
    """Property: whatever a save's body and headers, the server answers, and the page is either
    unchanged or a valid page whose bytes outside the draft are those it had."""
    import copy
    import json

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    session = open_review(page, load_config(), cache_dir=cache)
    original = page.read_bytes()
    state = (copy.deepcopy(session.blocks), session.file_hash, session.draft_hash)
    paragraph_ids = [str(i) for i, b in enumerate(session.blocks) if b.kind == "paragraph"]
    ids = st.sampled_from(paragraph_ids) | st.sampled_from(["0", "-1", "1e3", " 1", "\u0663", "99999", ""])
    markdown = st.text(alphabet=st.sampled_from(list("ab #*-_>|`[]()?!<>:\n\r\t\\0123456789")) | st.characters())
    texts = markdown | st.sampled_from(["## Next", "<!-- /du-transcripts draft -->", "---", "\ud800", "1. x", ""])
    paragraphs = st.dictionaries(ids, texts | st.integers() | st.none(), max_size=3)
    versions = st.sampled_from([state[2], state[2], "x"])
    edits = st.dictionaries(st.sampled_from(paragraph_ids), texts, min_size=1, max_size=2)  # what a browser sends

    def save(version, edited):
        return json.dumps({"draftHash": version, "paragraphs": edited}).encode()

    saves = st.builds(save, st.just(state[2]), edits) | st.builds(save, versions, paragraphs)
    bodies = saves | saves | st.binary(max_size=200)
    # How the Content-Length relates to the body: as sent (most often), missing, garbage, short or long.
    lengths = st.sampled_from(["exact", "exact", "exact", None, "", "abc", "-1", "1" * 30, "short", "long"])
    types = st.sampled_from(
        ["application/json", "application/json", "text/plain", "", "application/json; charset=\u00ff"]
    )
    saved = []

    with ReviewServer(session) as server:

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies, length=lengths, content_type=types)
        def check(body, length, content_type):
            headers: dict[str, str | None] = {"Content-Type": content_type, "Content-Length": str(len(body))}
            if length is None:
                headers["Content-Length"] = None
            elif length in ("short", "long"):
                headers["Content-Length"] = str(max(0, len(body) + (-1 if length == "short" else 5)))
            elif length != "exact":
                headers["Content-Length"] = length
            status, answer = _post(server, body, headers)
            assert 200 <= status < 500, (status, answer[:200])
            after = page.read_bytes()
            if after != original:
                assert status == 200
                saved.append(body)
                assert outside_transcript(after) == outside_transcript(original)
                assert pages.read_page(page).state == pages.HAS_TRANSCRIPT
                assert pages.read_transcript(page) is not None
                page.write_bytes(original)
                session.blocks, session.file_hash, session.draft_hash = copy.deepcopy(state[0]), *state[1:]

        server.RequestHandlerClass.timeout = 0.5  # a Content-Length longer than the body: answered 408 soon
        try:
            check()
        finally:
            server.RequestHandlerClass.timeout = 30
    assert saved  # some of the requests were saves that went through


def test_enter_then_a_double_ctrl_s_writes_the_new_paragraph_once(review, page):
    tab, _ = review
    _type_at_end_of_first_paragraph(tab, " Split")
    tab.keyboard.press("Enter")
    tab.keyboard.type("A paragraph of its own.")
    tab.keyboard.press("Control+S")
    tab.keyboard.press("Control+S")
    tab.wait_for_function("() => document.getElementById('status').textContent.startsWith('saved')")
    tab.wait_for_timeout(300)
    assert pages.read_transcript(page).count("A paragraph of its own.") == 1
    assert tab.locator("p.para", has_text="A paragraph of its own.").count() == 1


def test_a_second_tabs_stale_save_is_refused_and_its_edits_kept(review, page, browser):
    tab_a, server = review
    other = browser.new_context()
    tab_b = other.new_page()
    tab_b.goto(server.url)
    tab_b.wait_for_selector("body[data-ready='1']")
    _type_at_end_of_first_paragraph(tab_a, " Split")
    tab_a.keyboard.press("Enter")
    tab_a.keyboard.type("Tab A's new paragraph.")
    tab_a.keyboard.press("Control+S")
    tab_a.wait_for_function("() => document.getElementById('status').textContent.startsWith('saved')")
    saved = page.read_bytes()
    tab_b.locator("p.para").last.locator(".w").last.click()
    tab_b.keyboard.press("Escape")
    tab_b.keyboard.press("End")
    tab_b.keyboard.type(" Tab B's edit.")
    tab_b.keyboard.press("Control+S")
    tab_b.wait_for_selector("#status.error")
    assert "NOT SAVED" in tab_b.inner_text("#status") and page.read_bytes() == saved
    assert tab_b.locator("p.para").last.inner_text().endswith("Tab B's edit.")  # still on the page
    tab_b.locator("#reload").click()
    tab_b.wait_for_selector("#kept li")
    assert "Tab B's edit." in tab_b.inner_text("#kept")
    assert tab_b.locator("p.para", has_text="Tab A's new paragraph.").count() == 1  # the saved draft now
    other.close()
