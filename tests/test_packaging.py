"""The deployment files agree with the code: settings documented everywhere, Docker paths right.

No Docker engine is needed; these read the files the image and compose are built from.
"""

from __future__ import annotations

import json
import re
import tomllib
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.discord_side.feed_problems import PERMISSION_ORDER, feed_permissions
from bot.store import Controls

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = set(Settings.model_fields)


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", read("Dockerfile"))
    lines = [line.strip() for line in text.splitlines()]
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def instruction(name: str) -> list[str]:
    return [args for found, args in dockerfile_instructions() if found == name]


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    lines = read(".env.example").splitlines()
    names = {}
    for index, line in enumerate(lines):
        match = re.fullmatch(r"([A-Z_]+)=(.*)", line)
        if match:
            names[match[1]] = index
            assert lines[index - 1].startswith("# "), f"{match[1]} has no comment above it"
    assert set(names) == SETTINGS


def test_env_example_defaults_match_the_code() -> None:
    for line in read(".env.example").splitlines():
        match = re.fullmatch(r"([A-Z_]+)=(.*)", line)
        if not match or not match[2]:
            continue
        default = Settings.model_fields[match[1]].default
        assert str(default) == match[2], f"{match[1]}: .env.example says {match[2]!r}"


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", read("README.md"), flags=re.MULTILINE))
    assert documented == SETTINGS


def test_docker_image_runs_the_package_as_a_non_root_user() -> None:
    [entrypoint] = instruction("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", "bot"]
    assert (ROOT / "bot" / "__main__.py").exists()
    [command] = instruction("CMD")
    assert json.loads(command) == ["run"]
    [user] = instruction("USER")
    assert user not in ("root", "0")
    assert any("useradd" in run and f" {user}" in run for run in instruction("RUN"))


def test_docker_database_is_on_the_volume() -> None:
    [volume] = instruction("VOLUME")
    [volume_path] = json.loads(volume)
    env = " ".join(instruction("ENV"))
    database = re.search(r"DATABASE_PATH=(\S+)", env)
    assert database is not None
    assert Path(database[1]).parent == Path(volume_path)
    compose = read("docker-compose.yml")
    assert f":{volume_path}" in compose
    assert f"DATABASE_PATH: {database[1]}" in compose
    assert "env_file: .env" in compose
    assert re.search(r"restart: (unless-stopped|always)", compose)


def test_docker_health_check_uses_the_bots_own_probe() -> None:
    [healthcheck] = instruction("HEALTHCHECK")
    assert '["python", "-m", "bot", "healthcheck"]' in healthcheck
    assert "healthcheck" in read("bot/__main__.py")


def test_docker_copies_what_the_package_needs() -> None:
    build = read("Dockerfile")
    for folder in ("bot", "cogs"):
        assert f"COPY {folder} ./{folder}" in build
    assert "pip install --require-hashes -r requirements.lock" in build


def test_lock_file_pins_every_dependency() -> None:
    project = tomllib.loads(read("pyproject.toml"))["project"]
    lock = read("requirements.lock")
    pinned = {
        normalise(match[1]): match[2]
        for match in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, flags=re.MULTILINE)
    }
    for requirement in project["dependencies"]:
        name = normalise(re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0])
        assert name in pinned, f"{name} is not pinned in requirements.lock"
    assert pinned["discord-py"] == "2.7.1"
    assert "--hash=sha256:" in lock


def normalise(name: str) -> str:
    """PEP 503 name normalisation: discord.py == discord-py == Discord_Py."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_package_ships_every_file_read_at_run_time() -> None:
    """Files the bot reads that are not Python: each must be matched by package-data, or an
    install (and the Docker image) would lack it."""
    package_data = tomllib.loads(read("pyproject.toml"))["tool"]["setuptools"]["package-data"]
    needed = {
        "bot": sorted((ROOT / "bot" / "locales").iterdir()),
        "bot.store": sorted((ROOT / "bot" / "store" / "migrations").glob("*.sql")),
    }
    assert needed["bot"] and needed["bot.store"]
    for package, files in needed.items():
        folder = ROOT.joinpath(*package.split("."))
        shipped = {path for pattern in package_data[package] for path in folder.glob(pattern)}
        assert set(files) <= shipped, sorted(str(p) for p in set(files) - shipped)


def test_the_readme_invites_the_bot_with_what_its_controls_need() -> None:
    readme = read("README.md")
    assert f"permissions={feed_permissions(Controls.BOTH).value}" in readme
    assert f"`permissions={feed_permissions(Controls.BUTTONS).value}`" in readme
    assert feed_permissions(Controls.REACTIONS) == feed_permissions(Controls.BOTH)
    # Each permission's row says which controls need it.
    for name in PERMISSION_ORDER:
        title = name.replace("_", " ").title()
        [row] = [
            line.strip() for line in readme.splitlines() if line.strip().startswith(f"| {title} |")
        ]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        needs = [
            "✓" if getattr(feed_permissions(c), name) else "—"
            for c in (Controls.BUTTONS, Controls.BOTH)
        ]
        assert cells[2:] == needs, row


def test_time_zones_work_without_the_systems_zone_files() -> None:
    # The slim Docker image has no /usr/share/zoneinfo: schedules rely on the tzdata package.
    zoneinfo.reset_tzpath(to=[])
    try:
        zoneinfo.ZoneInfo.clear_cache()
        assert zoneinfo.ZoneInfo("Europe/Paris").utcoffset(datetime(2026, 7, 1)) == timedelta(
            hours=2
        )
        assert "America/New_York" in zoneinfo.available_timezones()
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
