"""`newsmon init [DIR]`: the starter files load as written, and nothing is overwritten unasked."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from newsmon.app.settings import load_settings
from newsmon.app.starter import FILES, settings_text
from newsmon.cli.main import EXIT_OK, EXIT_USAGE, main
from newsmon.crawler.sources import load_sources


def test_init_writes_starter_files_that_load(tmp_path: Path, capsys) -> None:
    target = tmp_path / "monitor"
    assert main(["init", str(target)]) == EXIT_OK
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES)
    out = capsys.readouterr().out
    assert all(str(target / name) in out for name in FILES)
    for name in FILES:
        text = (target / name).read_text(encoding="utf-8")
        assert text.startswith("# "), name  # commented, like scrapy startproject's files
    settings = load_settings(target / "newsmon.toml", env={})
    assert settings.data.dir == (target / "data").resolve()
    assert Path(settings.crawl.sources) == (target / "sources.yaml").resolve()
    assert "you@example.org" in settings.crawl.user_agent
    sources = load_sources(settings.crawl.sources)
    assert [s.id for s in sources if s.enabled] == ["gov-uk-fcdo"]
    assert [s.id for s in sources if not s.enabled] == ["example-paper"]
    if importlib.util.find_spec("newsmon.alerts") is not None:  # the alerts feature
        from newsmon.alerts.rules import load_rules

        assert [r.id for r in load_rules(target / "alerts.yaml").rules] == ["japan-uk-cyber"]
        assert Path(settings.alerts.rules) == (target / "alerts.yaml").resolve()


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path, capsys) -> None:
    (tmp_path / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == EXIT_USAGE
    assert "sources.yaml" in capsys.readouterr().err
    assert (tmp_path / "sources.yaml").read_text(encoding="utf-8") == "sources: []\n"
    assert not (tmp_path / "newsmon.toml").exists()
    assert main(["init", "--force", str(tmp_path)]) == EXIT_OK
    assert "gov-uk-fcdo" in (tmp_path / "sources.yaml").read_text(encoding="utf-8")


def test_settings_text_keeps_only_known_sections() -> None:
    template = ("# head\n\n[data]\n# where\ndir = \"data\"\n\n# about alerts\n[alerts]\n"
                "# rules file\nrules = \"alerts.yaml\"\n\n[log]\nlevel = \"INFO\"\n")
    assert settings_text(template, ["data", "log"]) == (
        "# head\n\n[data]\n# where\ndir = \"data\"\n\n[log]\nlevel = \"INFO\"\n")
    assert settings_text(template, ["data", "alerts", "log"]) == template
