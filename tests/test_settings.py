"""Settings layering: defaults file < local file < NEWSMON_<SECTION>__<KEY> env < flags, and
errors that name the file and the key."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from newsmon.app.settings import DEFAULTS_FILE, load_settings
from newsmon.index.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_file_alone_gives_documented_values() -> None:
    s = load_settings(env={})
    assert s.config_file is None
    # relative paths in the defaults file are relative to config/, the data folder to the
    # current folder (an installed package's folder is no place for data)
    assert s.data.dir == (Path.cwd() / "data").resolve()
    assert s.crawl.sources == (REPO / "config" / "sources.yaml").resolve()
    assert s.data.store_path == s.data.dir / "newsmon.db"
    assert s.data.lock_path == s.data.dir / "newsmon.lock"
    assert s.crawl.timeout == 30.0 and isinstance(s.crawl.timeout, float)
    assert s.crawl.obey_robots is True
    assert s.index.backend == "sqlite"
    assert s.log.level == "INFO"


def test_every_settings_key_is_in_the_commented_defaults_file() -> None:
    import tomllib

    data = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    s = load_settings(env={})
    for section, values in s.as_dict().items():
        assert set(values) == set(data.get(section, {})), f"[{section}] keys differ"


def test_every_dataclass_default_is_the_bundled_files_value() -> None:
    """The defaults are kept once, in config/newsmon.toml: a field added to a settings dataclass
    without its documented key in the file (or with another value) fails here."""
    import tomllib
    import typing

    from newsmon.index.core.settings import SECTIONS, Settings

    data = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    assert set(data) == set(SECTIONS)
    held = Settings()
    loaded = load_settings(env={})
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            assert f.default is not dataclasses.MISSING, f"[{section}].{f.name} has no default"
            assert f.name in data[section], f"[{section}].{f.name} is not in {DEFAULTS_FILE.name}"
            value = getattr(getattr(held, section), f.name)
            kind = hints[f.name]
            # exactly the field's type (30.0, not 30): coerce() reads the kind from the default
            assert isinstance(value, kind) and (kind is Path or type(value) is kind), \
                f"[{section}].{f.name}: {value!r}"
            assert value == kind(data[section][f.name]), f"[{section}].{f.name}"
            if not isinstance(value, Path):  # paths: load_settings resolves them
                assert getattr(getattr(loaded, section), f.name) == value


def test_the_default_user_agent_names_a_contact() -> None:
    from newsmon.index.core.settings import Settings

    assert "+https://" in Settings().crawl.user_agent


def test_local_file_overrides_defaults_and_resolves_paths_against_itself(tmp_path: Path) -> None:
    local = write(tmp_path / "etc" / "local.toml", """
[data]
dir = "store"
[crawl]
sources = "../my-sources.yaml"
timeout = 12
obey_robots = false
""")
    s = load_settings(local, env={})
    assert s.config_file == local.resolve()
    assert s.data.dir == tmp_path / "etc" / "store"
    assert s.crawl.sources == tmp_path / "my-sources.yaml"
    assert s.crawl.timeout == 12.0
    assert s.crawl.obey_robots is False
    # untouched keys keep the defaults
    assert s.crawl.retries == 2


def test_newsmon_config_env_names_the_file_and_the_flag_beats_it(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[crawl]\nretries = 5\n")
    b = write(tmp_path / "b.toml", "[crawl]\nretries = 7\n")
    assert load_settings(env={"NEWSMON_CONFIG": str(a)}).crawl.retries == 5
    assert load_settings(b, env={"NEWSMON_CONFIG": str(a)}).crawl.retries == 7


def test_environment_beats_the_local_file(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", "[crawl]\ntimeout = 12\nobey_robots = true\n")
    s = load_settings(local, env={
        "NEWSMON_CRAWL__TIMEOUT": "20",
        "NEWSMON_CRAWL__OBEY_ROBOTS": "off",
        "NEWSMON_CRAWL__CONCURRENCY": "3",
        "NEWSMON_INDEX__BACKEND": "elasticsearch",
        # not settings: no double underscore (secrets and test knobs look like this)
        "NEWSMON_ES_API_KEY": "secret",
        "NEWSMON_TEST_ES_URL": "http://127.0.0.1:9200",
    })
    assert s.crawl.timeout == 20.0
    assert s.crawl.obey_robots is False
    assert s.crawl.concurrency == 3
    assert s.index.backend == "elasticsearch"


def test_relative_path_from_the_environment_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={"NEWSMON_DATA__DIR": "here"})
    assert s.data.dir == tmp_path / "here"


def test_flags_beat_the_environment(tmp_path: Path) -> None:
    s = load_settings(env={"NEWSMON_DATA__DIR": str(tmp_path / "env"),
                           "NEWSMON_LOG__LEVEL": "ERROR"},
                      overrides={"data": {"dir": str(tmp_path / "flag")},
                                 "log": {"level": None}})  # None: flag not given
    assert s.data.dir == tmp_path / "flag"
    assert s.log.level == "ERROR"


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.crawl.timeout = 1.0  # type: ignore[misc]
    changed = s.replace("crawl", timeout="5")
    assert changed.crawl.timeout == 5.0 and s.crawl.timeout == 30.0


def test_unknown_key_in_file_names_file_key_and_allowed_keys(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", "[crawl]\ntimeuot = 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(local, env={})
    msg = str(err.value)
    assert str(local.resolve()) in msg
    assert "[crawl].timeuot" in msg
    assert "timeout" in msg  # the allowed keys are listed


def test_bad_value_type_names_the_key(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", '[crawl]\nconcurrency = "many"\n')
    with pytest.raises(ConfigError, match=r"local\.toml: \[crawl\]\.concurrency = 'many' is not "
                                          r"a valid int"):
        load_settings(local, env={})
    local.write_text("[crawl]\nconcurrency = 2.5\n")
    with pytest.raises(ConfigError, match=r"\[crawl\]\.concurrency"):
        load_settings(local, env={})


def test_bad_choice_lists_allowed_values(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", '[index]\nbackend = "postgres"\n')
    with pytest.raises(ConfigError, match=r"\[index\]\.backend = 'postgres'; allowed values: "
                                          r"sqlite, elasticsearch"):
        load_settings(local, env={})


def test_unknown_section_in_file(tmp_path: Path) -> None:
    local = write(tmp_path / "local.toml", "[crawler]\ntimeout = 3\n")
    with pytest.raises(ConfigError, match=r"local\.toml: unknown section \[crawler\]; allowed: "):
        load_settings(local, env={})


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"NEWSMON_CRAWL__TIMEOUT.*\[crawl\]\.timeout = 'soon'"):
        load_settings(env={"NEWSMON_CRAWL__TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match=r"NEWSMON_CRAWL__BOGUS.*unknown key \[crawl\]\.bogus"):
        load_settings(env={"NEWSMON_CRAWL__BOGUS": "1"})
    with pytest.raises(ConfigError, match=r"NEWSMON_NOPE__X.*unknown section 'nope'"):
        load_settings(env={"NEWSMON_NOPE__X": "1"})
    with pytest.raises(ConfigError, match=r"\[crawl\]\.obey_robots = 'maybe'"):
        load_settings(env={"NEWSMON_CRAWL__OBEY_ROBOTS": "maybe"})


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", "[crawl\ntimeout = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_settings(broken, env={})
    with pytest.raises(ConfigError, match=r"settings file not found: .*absent\.toml"):
        load_settings(tmp_path / "absent.toml", env={})


def test_bad_flag_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"flags: \[log\]\.level = 'LOUD'"):
        load_settings(env={}, overrides={"log": {"level": "LOUD"}})


def test_a_postgresql_store_needs_elasticsearch_and_a_dsn_variable(tmp_path: Path) -> None:
    from newsmon.index.store import open_store

    with pytest.raises(ConfigError, match=r'\[data\]\.store = "postgresql" needs '
                                          r'\[index\]\.backend = "elasticsearch"'):
        load_settings(env={"NEWSMON_DATA__STORE": "postgresql"})
    with pytest.raises(ConfigError, match=r"\[data\]\.store = 'mysql'; allowed values: "
                                          r"sqlite, postgresql"):
        load_settings(env={"NEWSMON_DATA__STORE": "mysql"})
    with pytest.raises(ConfigError, match=r"\[data\]\.dsn_env = 'not a name'"):
        load_settings(env={}, overrides={"data": {"store": "postgresql", "dsn_env": "not a name"},
                                         "index": {"backend": "elasticsearch"}})
    settings = load_settings(env={}, overrides={"data": {"store": "postgresql"},
                                                "index": {"backend": "elasticsearch"}})
    assert settings.data.dsn_env == "NEWSMON_PG_DSN"
    with pytest.raises(ConfigError, match=r"environment variable NEWSMON_PG_DSN "
                                          r"\(\[data\]\.dsn_env\), which is not set"):
        open_store(settings, env={})


def test_es_shards_replicas_and_node_urls_are_validated(tmp_path: Path) -> None:
    s = load_settings(env={})
    assert (s.index.es_shards, s.index.es_replicas) == (1, 0)   # one node: no replica to place
    local = write(tmp_path / "local.toml", '[index]\nes_url = "http://10.0.0.1:9200, '
                                           'https://es2.example:9200/"\nes_replicas = 1\n')
    s = load_settings(local, env={})
    assert s.index.es_replicas == 1
    from newsmon.index.core.settings import es_urls

    assert es_urls(s.index.es_url) == ["http://10.0.0.1:9200", "https://es2.example:9200/"]
    for text, bad in (('es_shards = 0', r"\[index\]\.es_shards = 0; allowed: 1 to 1024"),
                      ('es_replicas = -1', r"\[index\]\.es_replicas = -1; allowed: 0 to 32"),
                      ('es_url = "10.0.0.1:9200"',
                       r"\[index\]\.es_url = '10\.0\.0\.1:9200': '10\.0\.0\.1:9200' is not an "
                       r"http:// or https:// URL"),
                      ('es_url = "http://a:9200,,http://b:9200"',
                       r"\[index\]\.es_url = .*'' is not an http"),
                      ('es_url = " "', r"\[index\]\.es_url is empty")):
        local.write_text(f"[index]\n{text}\n")
        with pytest.raises(ConfigError, match=r"local\.toml: " + bad):
            load_settings(local, env={})
    with pytest.raises(ConfigError, match=r"NEWSMON_INDEX__ES_REPLICAS.*es_replicas = 'two'"):
        load_settings(env={"NEWSMON_INDEX__ES_REPLICAS": "two"})
