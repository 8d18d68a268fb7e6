"""Config: defaults, the default file, refusals naming file + key path + reason, layout."""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from xintud.config.load import ConfigError, load_config, validate_config
from xintud.config.schema import (
    CategoryConfig,
    Config,
    DaemonConfig,
    LibraryConfig,
    WatchFolder,
    layout_problem,
)
from xintud.core.categories import CATEGORY_IDS
from xintud.library.placement import render_layout

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "config.example.toml"
WHEN = datetime(2026, 3, 7, 12, 30)

xdg_only = pytest.mark.skipif(
    sys.platform in ("darwin", "win32"), reason="XDG_CONFIG_HOME applies on Linux and BSD"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home, with XDG_CONFIG_HOME in tmp_path so no real config is read."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return home


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> ConfigError:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value), "the message must name the file"
    return caught.value


# --- defaults and where the file is found ------------------------------------------------------


def test_defaults_when_the_default_file_is_missing(home: Path) -> None:
    config = load_config()
    assert [(w.path, w.kind) for w in config.watch] == [
        (home / "Pictures" / "Camera", "camera"),
        (home / "Pictures" / "Screenshots", "screenshots"),
    ]
    assert config.library.root == home / "Pictures" / "Xintu"
    assert config.library.action == "move"
    assert config.library.layout == "{category}/{year}/{month}"
    assert config.library.below_threshold == "leave"
    assert {cid: c.folder for cid, c in config.categories.items()} == {
        "social": "Social", "pets": "Pets", "single": "Single", "food": "Food",
        "travel": "Travel", "screenshot": "Screenshots", "idphoto": "ID Photos",
        "other": "Other",
    }
    assert config.ignore == []
    assert config.daemon == DaemonConfig()
    assert config.daemon.batch_size == 8 and config.daemon.settle_seconds == 3.0


@xdg_only
def test_default_file_comes_from_xdg_config_home(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "xdg-config" / "xintud"
    folder.mkdir(parents=True)
    write_config(folder, '[library]\naction = "copy"\n')
    assert load_config().library.action == "copy"


@xdg_only
def test_a_bad_default_file_is_refused_not_replaced_by_defaults(
    home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "xdg-config" / "xintud"
    folder.mkdir(parents=True)
    path = write_config(folder, '[library]\naction = "shred"\n')
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config()


def test_explicit_missing_file_is_an_error(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)
    assert caught.value.path == missing


def test_a_directory_is_not_a_config_file(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


def test_toml_syntax_error_names_the_file_and_line(home: Path, tmp_path: Path) -> None:
    error = refusal(tmp_path, '[library]\naction = "move"\nlayout = {category}/{year}\n')
    assert "line 3" in str(error)


def test_non_utf8_file_is_refused(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[library]\nroot = "~/Bilder/\xff"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)


def test_empty_file_gives_defaults(home: Path, tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "")) == Config()


# --- each kind of bad value names its key path --------------------------------------------------

BAD_VALUES = [
    ('[library]\naction = "mvoe"', "library.action", "'move', 'copy' or 'tag'"),
    ('[library]\nmin_confidence = 1.5', "library.min_confidence", "less than or equal to 1"),
    ('[library]\nmin_confidence = -0.1', "library.min_confidence", "greater than or equal"),
    ('[library]\nmin_confidence = nan', "library.min_confidence", "finite"),
    ('[library]\nbelow_threshold = "delete"', "library.below_threshold", "'leave' or 'other'"),
    ('[library]\nlayot = "{category}"', "library.layot", "unknown key"),
    ('[library]\nroot = "Pictures/Xintu"', "library.root", "relative path"),
    ('[library]\nroot = 3', "library.root", "expected a path string"),
    ('[library]\nlayout = "{category}/{yaer}"', "library.layout", "unknown placeholder {yaer}"),
    ('[library]\nlayout = "{}/x"', "library.layout", "unknown placeholder"),
    ('[library]\nlayout = "{category.upper}"', "library.layout", "unknown placeholder"),
    ('[library]\nlayout = "{year:>6}"', "library.layout", "format spec"),
    ('[library]\nlayout = "{category"', "library.layout", "not a valid template"),
    ('[library]\nlayout = "../{category}"', "library.layout", "contains '..'"),
    ('[library]\nlayout = "{category}/../../x"', "library.layout", "contains '..'"),
    ('[library]\nlayout = "/srv/{category}"', "library.layout", "absolute"),
    ('[library]\nlayout = "{category}//{year}"', "library.layout", "empty folder name"),
    ('[library]\nlayout = "{category}/"', "library.layout", "empty folder name"),
    ('[library]\nlayout = ""', "library.layout", "empty"),
    ('[library]\nlayout = "{category}\\\\{year}"', "library.layout", "backslash"),
    ('[library]\nlayout = "C:/{category}"', "library.layout", "absolute"),
    ('[categories.food]\nfolder = "../Food"', "categories.food.folder", "contains '..'"),
    ('[categories.food]\nfolder = "/etc"', "categories.food.folder", "absolute"),
    ('[categories.food]\nfolder = ""', "categories.food.folder", "empty"),
    ('[categories.food]\nfolder = "Food/"', "categories.food.folder", "empty folder name"),
    ('[categories.food]\nfolder = "a/./b"', "categories.food.folder", "contains '.'"),
    ('[categories.food]\nfolder = 7', "categories.food.folder", "valid string"),
    ('[categories.food]\nfodler = "Meals"', "categories.food.fodler", "unknown key"),
    ('[categories.fod]\nfolder = "Meals"', "categories.fod", "unknown category id 'fod'"),
    ('[[watch]]\npath = "~/a"\n[[watch]]\npath = "~/b"\nkind = "screenshot"',
     "watch[1].kind", "'camera' or 'screenshots'"),
    ('[[watch]]\npath = "Pictures/Camera"', "watch[0].path", "relative path"),
    ('[[watch]]\nkind = "camera"', "watch[0].path", "required key is missing"),
    ('[[watch]]\npath = "~/a"\npaht = "~/b"', "watch[0].paht", "unknown key"),
    ('watch = []', "watch", "at least one"),
    ('watch = "~/Pictures"', "watch", "one [[watch]] table per folder"),
    ('library = "~/Pictures"', "library", "expected a table"),
    ('ignore = ["raw/*.dng"]', "ignore[0]", "file names only"),
    ('ignore = ["*.raw", " "]', "ignore[1]", "empty"),
    ('ignore = "*.raw"', "ignore", "expected a list"),
    ('colour = "blue"', "colour", "unknown key"),
    ('[daemon]\nsettle_seconds = 0', "daemon.settle_seconds", "greater than 0"),
    ('[daemon]\nsettle_seconds = inf', "daemon.settle_seconds", "finite"),
    ('[daemon]\nsettle_seconds = "3"', "daemon.settle_seconds", "valid number"),
    ('[daemon]\nbatch_size = 0', "daemon.batch_size", "greater than or equal to 1"),
    ('[daemon]\nbatch_size = 1000', "daemon.batch_size", "less than or equal to 256"),
    ('[daemon]\nbatch_size = 8.5', "daemon.batch_size", "valid integer"),
    ('[daemon]\nbatch_size = "8"', "daemon.batch_size", "valid integer"),
    ('[daemon]\nbatch_max_wait_seconds = -1', "daemon.batch_max_wait_seconds", "greater than"),
    ('[daemon]\ninference_threads = 0', "daemon.inference_threads", "greater than or equal"),
    ('[daemon]\ndry_run = "yes"', "daemon.dry_run", "valid boolean"),
    ('[daemon]\nreconcile_interval_seconds = -5', "daemon.reconcile_interval_seconds",
     "greater than or equal to 0"),
    ('[daemon]\nidle_unload_seconds = -1', "daemon.idle_unload_seconds", "greater than"),
    ('[daemon]\nlog_level = "loud"', "daemon.log_level", "'debug', 'info', 'warning' or"),
    ('[daemon]\nthreads = 4', "daemon.threads", "valid keys here: settle_seconds"),
]


@pytest.mark.parametrize(("text", "key", "reason"), BAD_VALUES, ids=[k for _, k, _ in BAD_VALUES])
def test_bad_value_is_refused_with_key_path_and_reason(
    home: Path, tmp_path: Path, text: str, key: str, reason: str
) -> None:
    error = refusal(tmp_path, text + "\n")
    assert error.problems[0][0] == key, error.problems
    assert reason in error.problems[0][1]
    assert f"  {key}: " in str(error)


def test_every_problem_is_reported_at_once(home: Path, tmp_path: Path) -> None:
    error = refusal(tmp_path, '[library]\naction = "x"\n[daemon]\nbatch_size = 0\nfoo = 1\n')
    assert [key for key, _ in error.problems] == [
        "library.action", "daemon.batch_size", "daemon.foo",
    ]


def test_the_bad_value_is_shown(home: Path, tmp_path: Path) -> None:
    error = refusal(tmp_path, '[library]\naction = "mvoe"\n')
    assert "(got 'mvoe')" in str(error)


def test_unknown_key_lists_the_valid_keys(home: Path, tmp_path: Path) -> None:
    error = refusal(tmp_path, '[library]\nlayot = "x"\n')
    assert ("valid keys here: root, action, layout, min_confidence, albums, videos, "
            "video_twin_wait_seconds, below_threshold") in str(error)


def test_validate_config_without_a_file() -> None:
    with pytest.raises(ConfigError, match=r"library\.action"):
        validate_config({"library": {"action": "burn"}})


# --- watch folders and the library root ---------------------------------------------------------


def watch_toml(root: str, *folders: str, action: str = "move") -> str:
    tables = "".join(f'[[watch]]\npath = "{folder}"\n' for folder in folders)
    return f'{tables}[library]\nroot = "{root}"\naction = "{action}"\n'


@pytest.mark.parametrize(
    ("root", "folder", "words"),
    [
        ("~/Lib", "~/Lib/Inbox", "is inside library.root"),
        ("~/Pictures/Lib", "~/Pictures", "contains library.root"),
        ("~/Lib", "~/Lib", "is the same folder as library.root"),
        ("~/Lib", "~/Other/../Lib/Inbox", "is inside library.root"),
    ],
)
def test_watch_folder_overlapping_the_library_is_refused(
    home: Path, tmp_path: Path, root: str, folder: str, words: str
) -> None:
    error = refusal(tmp_path, watch_toml(root, "~/Safe", folder))
    assert error.problems[0][0] == "watch[1].path"
    assert words in error.problems[0][1]
    assert "filed again forever" in str(error)


def test_symlinked_watch_folder_inside_the_library_is_refused(home: Path, tmp_path: Path) -> None:
    inbox = home / "Lib" / "Inbox"
    inbox.mkdir(parents=True)
    (home / "Camera").symlink_to(inbox)
    error = refusal(tmp_path, watch_toml("~/Lib", "~/Camera"))
    assert error.problems[0][0] == "watch[0].path"


def test_tagging_in_place_may_watch_inside_the_library(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, watch_toml("~/Pictures", "~/Pictures/Camera",
                                                           action="tag")))
    assert config.watch[0].path == home / "Pictures" / "Camera"


@pytest.mark.parametrize("second", ["~/Camera", "~/Camera/", "~/Camera/Sub"])
def test_watch_folders_may_not_repeat_or_nest(home: Path, tmp_path: Path, second: str) -> None:
    error = refusal(tmp_path, watch_toml("~/Lib", "~/Camera", second))
    assert error.problems[0][0] == "watch[1].path"
    assert "overlaps watch[0].path" in error.problems[0][1]


def test_watch_paths_are_expanded_and_normalised(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, watch_toml(
        "/srv/photos/", "~/Pictures/../Pictures/Camera/", "/data/Shots")))
    assert [w.path for w in config.watch] == [
        home / "Pictures" / "Camera", Path("/data/Shots"),
    ]
    assert [w.kind for w in config.watch] == ["camera", "camera"]
    assert config.library.root == Path("/srv/photos")


def test_watch_folders_need_not_exist_yet(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, watch_toml("~/Lib", "~/Later/Sync")))
    assert not config.watch[0].path.exists()


# --- categories, daemon ----------------------------------------------------------------------


def test_categories_not_listed_keep_their_defaults(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(
        tmp_path, '[categories.food]\nfolder = "Meals/Dinner"\n[categories.pets]\n'))
    assert list(config.categories) == list(CATEGORY_IDS)
    assert config.categories["food"].folder == "Meals/Dinner"
    assert config.categories["pets"].folder == "Pets"
    assert config.categories["idphoto"].folder == "ID Photos"


def test_log_level_is_case_insensitive(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, '[daemon]\nlog_level = "WARNING"\n'))
    assert config.daemon.log_level == "warning"
    assert config.daemon.python_log_level() == logging.WARNING


def test_integer_seconds_are_accepted(home: Path, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "[daemon]\nsettle_seconds = 2\n"))
    assert config.daemon.settle_seconds == 2.0


def test_config_is_immutable() -> None:
    config = Config()
    with pytest.raises(ValueError):
        config.library.action = "copy"  # type: ignore[misc]


# --- layout -------------------------------------------------------------------------------------


def config_with(**library: Any) -> Config:
    return validate_config({"library": library})


def test_default_layout_renders_category_year_month(home: Path) -> None:
    config = Config()
    assert render_layout(config, "food", WHEN) == PurePosixPath("Food/2026/03")
    assert render_layout(config, "idphoto", WHEN) == PurePosixPath("ID Photos/2026/03")


def test_every_placeholder_renders(home: Path) -> None:
    config = config_with(layout="{year}/{category_id}-{month}-{day}/{category}")
    assert render_layout(config, "screenshot", WHEN) == PurePosixPath(
        "2026/screenshot-03-07/Screenshots")


def test_layout_uses_the_configured_folder_and_escaped_braces(home: Path) -> None:
    config = validate_config({
        "library": {"layout": "{{sorted}}/{category}"},
        "categories": {"single": {"folder": "People/Alone"}},
    })
    assert render_layout(config, "single", WHEN) == PurePosixPath("{sorted}/People/Alone")


def test_layout_without_placeholders_is_one_fixed_folder(home: Path) -> None:
    assert render_layout(config_with(layout="Inbox"), "pets", WHEN) == PurePosixPath("Inbox")


def test_render_layout_refuses_an_unknown_category(home: Path) -> None:
    with pytest.raises(ValueError, match="unknown category"):
        render_layout(Config(), "selfie", WHEN)


LAYOUT_PIECES = ["{category}", "{category_id}", "{year}", "{month}", "{day}", "/", "//", ".",
                 "..", "a", "-", "{", "}", "{{", "}}", "{nope}", "{year!r}", "~", " "]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(LAYOUT_PIECES), min_size=1, max_size=8),
    folder=st.sampled_from(["Food", "A/B", "..x", "x..", "a b"]),
    when=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)
def test_an_accepted_layout_never_leaves_the_library(
    pieces: list[str], folder: str, when: datetime
) -> None:
    layout = "".join(pieces)
    if layout_problem(layout) is not None:
        return
    config = validate_config({"library": {"root": "/lib", "layout": layout},
                              "watch": [{"path": "/in"}],
                              "categories": {"food": {"folder": folder}}})
    for category in CATEGORY_IDS:
        rendered = render_layout(config, category, when)
        assert not rendered.is_absolute()
        assert all(part not in ("", ".", "..") for part in str(rendered).split("/"))


# --- the example file cannot drift from the code -------------------------------------------------


def model_fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_example_loads_and_shows_the_true_defaults(home: Path) -> None:
    assert load_config(EXAMPLE) == Config()


def test_example_sets_every_field_of_every_model() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) == model_fields(Config)
    for table in data["watch"]:
        assert set(table) == model_fields(WatchFolder)
    assert set(data["library"]) == model_fields(LibraryConfig)
    assert set(data["categories"]) == set(CATEGORY_IDS)
    for table in data["categories"].values():
        assert set(table) == model_fields(CategoryConfig)
    assert set(data["daemon"]) == model_fields(DaemonConfig)


def test_every_key_in_the_example_has_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        if not re.match(r"^\s*\w+\s*=", line):
            continue
        previous = lines[number - 1].strip() if number else ""
        if "#" not in line.split("=", 1)[1] and not previous.startswith("#"):
            undocumented.append(line)
    assert undocumented == []


def _fields(model: type, prefix: str = "") -> list[tuple[str, object]]:
    """(key path, FieldInfo) for every key of a config model, tables included, recursively."""
    from pydantic import BaseModel

    found = []
    for name, info in model.model_fields.items():
        found.append((f"{prefix}{name}", info))
        inner = info.annotation
        for arg in getattr(inner, "__args__", ()):  # list[X], dict[K, X]
            inner = arg
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found += _fields(inner, f"{prefix}{name}.")
    return found


def test_every_config_key_is_described_in_the_schema_and_in_the_example() -> None:
    from xintud.config.schema import Config

    example = (REPO / "config.example.toml").read_text()
    for key, info in _fields(Config):
        assert info.description, f"{key} has no Field description in config/schema.py"
        leaf = key.rsplit(".", 1)[-1]
        assert f"{leaf} =" in example or f"[{key}" in example or f"[[{key}" in example, (
            f"config.example.toml does not document {key}")
