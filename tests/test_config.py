"""Configuration: one set of defaults, overlays, and configs that ship inside the package."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from dataclasses import fields
from pathlib import Path

import pytest
from pipeline.config import Config, ConfigError, configs_dir, load_config

REPO = Path(__file__).resolve().parent.parent


def test_defaults_cover_every_option_and_nothing_else():
    config = load_config()
    assert config.model.name == "tiny.en"
    assert config.model.device == "auto"
    assert config.transcribe.word_timestamps is True
    assert isinstance(config.transcribe.temperature, tuple)
    # every section of the dataclass is filled from default.toml (no hidden defaults in code)
    assert {f.name for f in fields(Config)} == set(config.to_dict())


def test_gpu_config_overlays_defaults():
    config = load_config("gpu")
    assert config.model.device == "cuda"
    assert config.model.compute_type == "float16"
    assert config.transcribe.batch_size > 1
    # untouched options keep their defaults
    assert config.align == load_config().align


def test_user_file_overlay_and_errors(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('[transcribe]\nbeam_size = 3\n[run]\nexport = ["srt"]\n')
    config = load_config(good)
    assert config.transcribe.beam_size == 3
    assert config.run.export == ("srt",)

    bad_key = tmp_path / "bad.toml"
    bad_key.write_text("[transcribe]\nbeam = 3\n")
    with pytest.raises(ConfigError, match="unknown option"):
        load_config(bad_key)
    bad_type = tmp_path / "badtype.toml"
    bad_type.write_text('[transcribe]\nbeam_size = "wide"\n')
    with pytest.raises(ConfigError, match="beam_size"):
        load_config(bad_type)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[transcribe\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_replace_coerces_command_line_values():
    config = load_config().replace("run", export="srt,vtt").replace("model", name="base", device=None)
    assert config.run.export == ("srt", "vtt")
    assert config.model.name == "base"
    assert config.model.device == "auto"


def test_cli_works_from_any_folder(tmp_path):
    # configs ship with the package: no reliance on the current directory
    result = subprocess.run(
        [sys.executable, "-c", "from pipeline.config import load_config; print(load_config('gpu').model.device)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cuda"


def test_wheel_ships_the_configs(tmp_path):
    pytest.importorskip("hatchling")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("default.toml", "gpu.toml"):
        assert f"pipeline/configs/{name}" in names
    assert configs_dir().joinpath("default.toml").is_file()


# -- the command line's config flags: one table (pipeline/cli_options.py) --------------------

SAMPLE_VALUES = {str: "x", int: 3, float: 0.5, bool: False}
# Options that take one of a few words or a shape of text: a valid value of each.
SAMPLE_TEXT = {"export": "srt", "executor": "ray", "ray_address": "auto", "gpus_per_worker": "0.5"}


def test_every_config_flag_names_a_real_option_and_has_help():
    from pipeline.cli_options import CONFIG_FLAGS, flag_type

    defaults = load_config().to_dict()
    assert len({f.parameter for f in CONFIG_FLAGS}) == len(CONFIG_FLAGS)
    for flag in CONFIG_FLAGS:
        assert flag.option in defaults[flag.section], flag
        assert flag.help.strip(), flag
        assert flag_type(flag) in SAMPLE_VALUES


def test_each_config_flag_reaches_its_section():
    from pipeline.cli_options import CONFIG_FLAGS, build_config, flag_type

    for flag in CONFIG_FLAGS:
        value = SAMPLE_TEXT.get(flag.option, SAMPLE_VALUES[flag_type(flag)])
        config = build_config(None, {flag: value})
        expected = ("srt",) if flag.option == "export" else value
        assert getattr(getattr(config, flag.section), flag.option) == expected, flag
    untouched = build_config(None, {flag: None for flag in CONFIG_FLAGS})
    assert untouched == load_config()


def test_the_cli_takes_every_flag_of_the_table_and_no_dead_one():
    from pipeline.cli import app
    from pipeline.cli_options import CONFIG_FLAGS
    from typer.testing import CliRunner

    help_of = {
        command: CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"}).output
        for command in ("run", "review")
    }
    for flag in CONFIG_FLAGS:
        command = "review" if flag.section == "review" else "run"
        for name in flag.decls.split("/"):
            assert name in help_of[command], (command, name)
            if flag.section == "review":
                assert name not in help_of["run"], name  # the review page's options are review's alone
    refused = CliRunner().invoke(app, ["run", "--only-missing", "."])
    assert refused.exit_code == 2 and "No such option" in refused.output


@pytest.mark.parametrize(
    "section, option, value, says",
    [
        ("transcribe", "batch_size", 8.5, "cannot use 8.5 as a whole number"),
        ("transcribe", "batch_size", True, "cannot use True as a whole number"),
        ("transcribe", "batch_size", "8.5", "whole number"),
        ("transcribe", "beam_size", "9" * 5000, "whole number"),
        ("run", "cache_dir", 7, "cannot use 7 as a path"),
        ("run", "cache_dir", ["x", "y"], "as a path"),
        ("run", "export_dir", {"a": 1}, "as a path"),
        ("download", "cookies", 1.5, "as a path"),
        ("transcribe", "vad_filter", 3, "true or false"),
        ("align", "min_pause", float("nan"), "a number"),
        ("align", "snap_tolerance", float("inf"), "a number"),
        ("transcribe", "temperature", [], "temperature"),
        ("run", "export", ["srt", 3], "list of words"),
        ("run", "export", "srt,doc", "unknown format(s) doc"),
        ("run", "executor", "spark", "not one of local, ray"),
        ("run", "workers", -1, "must not be negative"),
        ("run", "gpus_per_worker", "half", "use auto or a number"),
        ("run", "gpus_per_worker", "-1", "use auto or a number"),
        ("run", "ray_address", "127.0.0.1", "is not HOST:PORT"),
        ("run", "ray_address", "127.0.0.1:99999", "is not HOST:PORT"),
        ("run", "ray_address", "http://x:1", "is not HOST:PORT"),
        ("review", "port", 70000, "not between 0 and 65535"),
        ("speakers", "num_speakers", 100, "more than max_speakers (6)"),
        ("speakers", "min_speakers", 7, "min_speakers <= max_speakers"),
    ],
)
def test_options_are_refused_by_type_and_range_naming_the_key(section, option, value, says):
    with pytest.raises(ConfigError, match=re.escape(says)) as refused:
        load_config().replace(section, **{option: value})
    assert (refused.value.section, refused.value.option) == (section, option) and f"[{section}]" in str(refused.value)


def test_whole_numbers_and_text_written_in_other_forms_are_taken():
    config = load_config()
    assert config.replace("transcribe", batch_size=8.0).transcribe.batch_size == 8
    assert config.replace("transcribe", batch_size="16").transcribe.batch_size == 16
    assert config.replace("run", gpus_per_worker=1).run.gpus_per_worker == "1"
    for address in ("auto", "10.0.0.5:6379", "ray://head.example:10001", "[::1]:6379"):
        assert config.replace("run", ray_address=address).run.ray_address == address


def test_a_wrong_value_in_a_config_file_names_the_file_and_a_non_utf8_file_is_one_error(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text("[transcribe]\nbatch_size = 8.5\n")
    with pytest.raises(ConfigError, match=re.escape(f"{mine}: [transcribe] batch_size: cannot use 8.5")):
        load_config(mine)
    mine.write_bytes(b"[run]\nglossary = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(mine)
