"""The Helm chart, rendered and linted offline by Helm's own engine (helm-python-sdk, no binary)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from cryptography.fernet import Fernet

from api_gateway.settings import GatewaySettings
from calendar_sync.settings import CalendarSyncSettings
from mb_shared.contracts.bot import BotDispatched
from mb_shared.contracts.catalogue import durable_consumers, durable_name

CHART = Path(__file__).resolve().parents[1] / "helm" / "meeting-bots"

SERVICES = {
    # service: (its values key, its database or None)
    "api-gateway": ("apiGateway", "gateway"),
    "scheduler": ("scheduler", "scheduler"),
    "bot-runner": ("botRunner", None),
    "transcriber": ("transcriber", "transcriber"),
    "webhook-dispatcher": ("webhookDispatcher", "webhooks"),
    "calendar-sync": ("calendarSync", "calendars"),
    "meetings": ("meetings", "meetings"),
}
MIGRATING = ["api-gateway", "scheduler", "transcriber", "webhook-dispatcher", "calendar-sync",
             "meetings"]
# The services that seal or open secrets, and so get MB_SECRET_KEYS (never the bot-runner).
SEALING = ["api-gateway", "scheduler", "transcriber", "webhook-dispatcher", "calendar-sync",
           "meetings"]
# The services whose stored secrets `rotate-secrets` seals again, by default.
ROTATING = ["api-gateway", "scheduler", "calendar-sync", "meetings"]
KEY = Fernet.generate_key().decode()

# What an operator must supply at least: credentials and the key ring for the generated Secret.
REQUIRED_VALUES: dict[str, Any] = {
    "postgresql": {"password": "pg-password"},
    "s3": {"accessKey": "access-key", "secretKey": "a-real-secret"},
    "secrets": {"secretKeys": [KEY]},
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def render(
    overrides: dict[str, Any] | None = None, *, base: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every object the chart renders (hooks included), as parsed YAML."""
    values = _merge(REQUIRED_VALUES if base is None else base, overrides or {})
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name="mb", namespace="meeting-bots", is_install=True)
    objects = []
    for path, text in manifests.items():
        if path.endswith(".yaml"):
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}
    ]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def test_chart_lints_without_warnings():
    report = helm.lint(CHART, REQUIRED_VALUES, strict=True, namespace="meeting-bots")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_install_without_credentials_fails_with_a_clear_message():
    with pytest.raises(helm.HelmRenderError, match="postgresql.password"):
        render(base={})
    with pytest.raises(helm.HelmRenderError, match="placeholder"):
        render({"s3": {"secretKey": "minioadmin"}})


def test_every_service_has_a_deployment_named_after_it(objects):
    deployments = by_kind(objects, "Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["name"] == name
        assert container["command"] == [f"mb-{name}"]
        assert "migrate" not in container.get("args", [])


def test_every_container_has_limits_and_a_hardened_security_context():
    everything = render(
        {
            "botRunner": {"keda": {"enabled": True}},
            "apiGateway": {"ingress": {"enabled": True}},
            "rotateSecrets": {"enabled": True},
        }
    )
    specs = pod_specs(everything)
    assert len(specs) == len(SERVICES) + 2  # the Deployments, the migrations and rotation Jobs
    for where, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        mounted = set()
        for container in spec.get("initContainers", []) + spec["containers"]:
            what = f"{where} container {container['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), what
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, what
            assert context["allowPrivilegeEscalation"] is False, what
            assert context["readOnlyRootFilesystem"] is True, what
            assert context["capabilities"]["drop"] == ["ALL"], what
            mounted |= {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounted, f"{where} has a read-only root and needs a writable /tmp"


def test_each_service_reads_its_own_database_url(objects):
    secret = by_kind(objects, "Secret")["meeting-bots"]["stringData"]
    for name, container in (
        (n, d["spec"]["template"]["spec"]["containers"][0])
        for n, d in by_kind(objects, "Deployment").items()
    ):
        database = SERVICES[name][1]
        env = env_of(container)
        if database is None:
            assert "DATABASE_URL" not in env, name
            continue
        key = env["DATABASE_URL"]["secretKeyRef"]["key"]
        assert secret[key].startswith("postgresql://meeting_bots:pg-password@")
        assert secret[key].endswith(f":5432/{database}"), (name, secret[key])
        assert env["S3_SECRET_KEY"]["secretKeyRef"] == {
            "name": "meeting-bots",
            "key": "S3_SECRET_KEY",
        }


def test_existing_secret_replaces_the_generated_ones():
    objects = render({"secrets": {"existingSecret": "managed-elsewhere"}}, base={})
    assert by_kind(objects, "Secret") == {}
    refs = [
        e["valueFrom"]["secretKeyRef"]["name"]
        for _, spec in pod_specs(objects)
        for c in spec["containers"]
        for e in c["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert refs and set(refs) == {"managed-elsewhere"}


def test_bot_runner_gets_a_memory_backed_dev_shm_and_memory_per_bot():
    deployment = by_kind(render({"botRunner": {"maxConcurrentBots": 3}}), "Deployment")[
        "bot-runner"
    ]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    shm = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    assert len(shm) == 1
    volume = next(v for v in spec["volumes"] if v["name"] == shm[0])
    assert volume["emptyDir"]["medium"] == "Memory"
    assert env_of(container)["RUNNER_MAX_CONCURRENT_BOTS"] == "3"
    assert env_of(container)["RUNNER_CHROMEDRIVER_PATH"] == "/usr/bin/chromedriver"
    # base 256Mi + 3 bots x 1536Mi
    assert container["resources"]["limits"]["memory"] == "4864Mi"


def test_transcriber_model_cache_is_a_volume(objects):
    spec = by_kind(objects, "Deployment")["transcriber"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    cache_dir = env_of(container)["TRANSCRIBER_MODEL_CACHE_DIR"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == cache_dir]
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume

    claimed = by_kind(
        render({"transcriber": {"modelCache": {"existingClaim": "whisper"}}}), "Deployment"
    )["transcriber"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "whisper"}} in claimed


def test_migrations_job_is_a_pre_install_and_pre_upgrade_hook_running_every_migrate(objects):
    job = by_kind(objects, "Job")["meeting-bots-migrations"]
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert sorted(hooks) == ["pre-install", "pre-upgrade"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    commands = sorted(c["command"] + c.get("args", []) for c in spec["containers"])
    assert commands == sorted([f"mb-{name}", "migrate"] for name in MIGRATING)
    # A hook runs before the release's own Secret exists: it must read one that exists by then.
    secret_names = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in spec["containers"]
        for e in c["env"]
        if "valueFrom" in e
    }
    (hook_secret,) = secret_names
    secret = by_kind(objects, "Secret")[hook_secret]
    assert "pre-install" in secret["metadata"]["annotations"]["helm.sh/hook"]
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_keda_scaled_object_only_when_enabled(objects):
    assert by_kind(objects, "ScaledObject") == {}
    assert by_kind(objects, "Deployment")["bot-runner"]["spec"]["replicas"] == 1

    scaled = render({"botRunner": {"keda": {"enabled": True}, "maxConcurrentBots": 2}})
    (scaled_object,) = by_kind(scaled, "ScaledObject").values()
    assert scaled_object["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled_object["spec"]["scaleTargetRef"]["name"] == "bot-runner"
    (trigger,) = scaled_object["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    assert trigger["metadata"]["stream"] == "DISPATCH"
    assert trigger["metadata"]["consumer"] == "bot-runner-bot_dispatch"
    # The name the bot-runner gives its durable consumer, on the stream it reads.
    assert {trigger["metadata"]["consumer"]: trigger["metadata"]["stream"]}.items() <= (
        durable_consumers().items()
    )
    assert trigger["metadata"]["consumer"] == durable_name("bot-runner", BotDispatched)
    assert trigger["metadata"]["lagThreshold"] == "2"
    # KEDA owns the replica count: the Deployment must not fight it on every upgrade.
    assert "replicas" not in by_kind(scaled, "Deployment")["bot-runner"]["spec"]


def test_gateway_service_targets_port_8080_and_is_probed_on_health(objects):
    service = by_kind(objects, "Service")["api-gateway"]
    deployment = by_kind(objects, "Deployment")["api-gateway"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (port,) = service["spec"]["ports"]
    target = port["targetPort"]
    if isinstance(target, str):
        target = next(p["containerPort"] for p in container["ports"] if p["name"] == target)
    assert target == 8080
    env = env_of(container)
    assert env["GATEWAY_PORT"] == "8080" and env["GATEWAY_HOST"] == "0.0.0.0"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"


def test_gateway_has_a_disruption_budget_selecting_its_pods(objects):
    pdb = by_kind(objects, "PodDisruptionBudget")["api-gateway"]
    labels = by_kind(objects, "Deployment")["api-gateway"]["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_replicas_default_to_two_where_the_services_share_work(objects):
    replicas = {n: d["spec"]["replicas"] for n, d in by_kind(objects, "Deployment").items()}
    assert replicas == {
        "api-gateway": 2,
        "scheduler": 2,
        "webhook-dispatcher": 2,
        "calendar-sync": 2,
        "meetings": 2,
        "transcriber": 1,
        "bot-runner": 1,
    }
    scaled = render({"transcriber": {"replicas": 3}, "botRunner": {"replicas": 2}})
    replicas = {n: d["spec"]["replicas"] for n, d in by_kind(scaled, "Deployment").items()}
    assert replicas["transcriber"] == 3 and replicas["bot-runner"] == 2


def _budgets(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return by_kind(objects, "PodDisruptionBudget")


def test_every_service_with_more_than_one_replica_has_a_disruption_budget(objects):
    assert set(_budgets(objects)) == {
        "api-gateway",
        "scheduler",
        "webhook-dispatcher",
        "calendar-sync",
        "meetings",
    }
    for name in ("scheduler", "webhook-dispatcher", "calendar-sync", "meetings"):
        pdb = _budgets(objects)[name]
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["minAvailable"] == 1
        labels = by_kind(objects, "Deployment")[name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        # Another service's pods are not counted.
        others = by_kind(objects, "Deployment")["api-gateway"]["spec"]["template"]["metadata"]
        assert not pdb["spec"]["selector"]["matchLabels"].items() <= others["labels"].items()

    # One replica: no budget, it would block every node drain.
    single = render(
        {
            "scheduler": {"replicas": 1},
            "webhookDispatcher": {"replicas": 1},
            "calendarSync": {"replicas": 1},
            "meetings": {"replicas": 1},
        }
    )
    assert set(_budgets(single)) == {"api-gateway"}
    more = render({"transcriber": {"replicas": 2}, "botRunner": {"replicas": 2}})
    assert {"transcriber", "bot-runner"} <= set(_budgets(more))
    # KEDA owns the bot-runner's count, which may be 1: no budget then.
    keda = render({"botRunner": {"replicas": 2, "keda": {"enabled": True}}})
    assert "bot-runner" not in _budgets(keda)
    off = render({"scheduler": {"pdb": {"enabled": False}}})
    assert "scheduler" not in _budgets(off)


def test_retry_delays_reach_every_service_through_the_config_map(objects):
    config_map = by_kind(objects, "ConfigMap")["meeting-bots"]
    assert config_map["data"]["MB_RETRY_DELAYS_S"] == "1,5,15,60,300,900"
    for name, deployment in by_kind(objects, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {"configMapRef": {"name": "meeting-bots"}} in container["envFrom"], name

    for given in ("0.5, 2,10", [0.5, 2, 10]):
        data = by_kind(render({"retryDelaysS": given}), "ConfigMap")["meeting-bots"]["data"]
        assert data["MB_RETRY_DELAYS_S"] == "0.5,2,10"
    for wrong in ("", [], "1,soon"):
        with pytest.raises(helm.HelmRenderError, match="retryDelaysS"):
            render({"retryDelaysS": wrong})


def test_stream_replicas_reach_every_service(objects):
    assert by_kind(objects, "ConfigMap")["meeting-bots"]["data"]["MB_STREAM_REPLICAS"] == "1"
    clustered = by_kind(render({"streamReplicas": 3}), "ConfigMap")["meeting-bots"]["data"]
    assert clustered["MB_STREAM_REPLICAS"] == "3"


def _containers(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every container of the Deployments and Jobs, as "<object>/<container>"."""
    return {
        f"{o['metadata']['name']}/{c['name']}": c
        for o in objects
        if o["kind"] in {"Deployment", "Job"}
        for c in o["spec"]["template"]["spec"]["containers"]
    }


def test_secret_keys_reach_exactly_the_sealing_services(objects):
    secret = by_kind(objects, "Secret")["meeting-bots"]["stringData"]
    assert secret["MB_SECRET_KEYS"] == KEY
    for name, deployment in by_kind(objects, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ref = env_of(container).get("MB_SECRET_KEYS")
        if name in SEALING:
            assert ref == {"secretKeyRef": {"name": "meeting-bots", "key": "MB_SECRET_KEYS"}}, name
        else:
            assert ref is None, f"{name} must never see MB_SECRET_KEYS"
    # Nowhere else either: no ConfigMap value, no envFrom of the Secret.
    assert "MB_SECRET_KEYS" not in by_kind(objects, "ConfigMap")["meeting-bots"]["data"]
    for where, container in _containers(objects).items():
        assert all("secretRef" not in source for source in container.get("envFrom", [])), where
    # The sealing services' migrations read it too (their settings refuse to start without it),
    # from the hook's copy; the others' never do.
    job = by_kind(objects, "Job")["meeting-bots-migrations"]
    for container in job["spec"]["template"]["spec"]["containers"]:
        if container["name"] not in SEALING:
            assert "MB_SECRET_KEYS" not in env_of(container), container["name"]
            continue
        ref = env_of(container)["MB_SECRET_KEYS"]["secretKeyRef"]
        assert by_kind(objects, "Secret")[ref["name"]]["stringData"][ref["key"]] == KEY


def test_secret_keys_newest_first_as_a_list_or_a_string():
    newer = Fernet.generate_key().decode()
    for given in ([newer, KEY], f"{newer}, {KEY}"):
        objects = render({"secrets": {"secretKeys": given}})
        assert by_kind(objects, "Secret")["meeting-bots"]["stringData"]["MB_SECRET_KEYS"] == (
            f"{newer},{KEY}"
        )


def test_install_without_secret_keys_fails_outside_development():
    for missing in ([], ""):
        with pytest.raises(helm.HelmRenderError, match="secrets.secretKeys"):
            render({"secrets": {"secretKeys": missing}})
    with pytest.raises(helm.HelmRenderError, match="not a Fernet key"):
        render({"secrets": {"secretKeys": ["changeme"]}})
    # In development the services run without it, and so does the chart: no key, no variable.
    objects = render({"environment": "development", "secrets": {"secretKeys": []}})
    assert "MB_SECRET_KEYS" not in by_kind(objects, "Secret")["meeting-bots"]["stringData"]
    for where, container in _containers(objects).items():
        assert "MB_SECRET_KEYS" not in env_of(container), where


def test_existing_secret_provides_the_secret_keys():
    objects = render({"secrets": {"existingSecret": "managed-elsewhere"}}, base={})
    for where, container in _containers(objects).items():
        ref = env_of(container).get("MB_SECRET_KEYS")
        if where.split("/")[1] in SEALING:
            assert ref["secretKeyRef"] == {"name": "managed-elsewhere", "key": "MB_SECRET_KEYS"}
        else:
            assert ref is None, where


def test_rotate_secrets_job_only_when_enabled_after_the_upgrade(objects):
    assert set(by_kind(objects, "Job")) == {"meeting-bots-migrations"}

    job = by_kind(render({"rotateSecrets": {"enabled": True}}), "Job")[
        "meeting-bots-rotate-secrets"
    ]
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert sorted(hooks) == ["post-install", "post-upgrade"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    containers = {c["name"]: c for c in spec["containers"]}
    assert sorted(containers) == sorted(ROTATING)
    for name, container in containers.items():
        assert container["command"] + container["args"] == [f"mb-{name}", "rotate-secrets"]
        assert container["image"] == f"meeting-bots/{name}:0.1.0"
        env = env_of(container)
        # After the upgrade the release's own Secret holds the new ring.
        assert env["MB_SECRET_KEYS"]["secretKeyRef"] == {
            "name": "meeting-bots",
            "key": "MB_SECRET_KEYS",
        }
        database = SERVICES[name][1]
        assert env["DATABASE_URL"]["secretKeyRef"]["key"] == f"{database.upper()}_DATABASE_URL"

    fewer = render({"rotateSecrets": {"enabled": True, "services": ["calendar-sync"]}})
    (container,) = by_kind(fewer, "Job")["meeting-bots-rotate-secrets"]["spec"]["template"][
        "spec"]["containers"]
    assert container["command"] == ["mb-calendar-sync"]
    for storing_nothing in ("bot-runner", "transcriber", "webhook-dispatcher"):
        with pytest.raises(helm.HelmRenderError, match="stores no secret"):
            render({"rotateSecrets": {"enabled": True, "services": [storing_nothing]}})


def test_the_documented_set_forms_give_the_chart_what_it_expects():
    newer = Fernet.generate_key().decode()
    for expression, expected in (
        (f"secrets.secretKeys={KEY}", KEY),
        (f"secrets.secretKeys={{{newer},{KEY}}}", f"{newer},{KEY}"),
    ):
        values = _merge(REQUIRED_VALUES, helm.parse_set_string(expression))
        secret = by_kind(render(base=values), "Secret")["meeting-bots"]["stringData"]
        assert secret["MB_SECRET_KEYS"] == expected, expression
    values = _merge(REQUIRED_VALUES, helm.parse_set_string("retryDelaysS={1,5,15}"))
    config = by_kind(render(base=values), "ConfigMap")["meeting-bots"]["data"]
    assert config["MB_RETRY_DELAYS_S"] == "1,5,15"


def _calendar_sync(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = by_kind(objects, "Deployment")["calendar-sync"]["spec"]["template"]["spec"][
        "containers"
    ]
    return env_of(container)


def test_calendar_sync_settings_default_to_the_real_providers(objects):
    env = _calendar_sync(objects)
    defaults = {field.alias: field.default for field in CalendarSyncSettings.model_fields.values()}
    for name in (
        "CALENDAR_GOOGLE_TOKEN_URL",
        "CALENDAR_GOOGLE_API_URL",
        "CALENDAR_MICROSOFT_LOGIN_URL",
        "CALENDAR_MICROSOFT_TENANT",
        "CALENDAR_GRAPH_URL",
    ):
        assert env[name] == defaults[name], name
    assert int(env["CALENDAR_WINDOW_DAYS"]) == defaults["CALENDAR_WINDOW_DAYS"]
    assert float(env["CALENDAR_PERIODIC_SYNC_S"]) == defaults["CALENDAR_PERIODIC_SYNC_S"]
    # Every variable the chart sets is a setting of the service.
    assert {n for n in env if n.startswith("CALENDAR_")} <= set(defaults)

    tuned = _calendar_sync(
        render(
            {
                "calendarSync": {
                    "windowDays": 14,
                    "periodicSyncS": 300,
                    "microsoft": {"tenant": "contoso.onmicrosoft.com"},
                    "env": {"CALENDAR_PROVIDER_TIMEOUT_S": 30},
                }
            }
        )
    )
    assert tuned["CALENDAR_WINDOW_DAYS"] == "14"
    assert tuned["CALENDAR_PERIODIC_SYNC_S"] == "300"
    assert tuned["CALENDAR_MICROSOFT_TENANT"] == "contoso.onmicrosoft.com"
    assert tuned["CALENDAR_PROVIDER_TIMEOUT_S"] == "30"
    for wrong in (0, 366):
        with pytest.raises(helm.HelmRenderError, match="calendarSync.windowDays"):
            render({"calendarSync": {"windowDays": wrong}})


def test_calendar_push_url_is_the_gateways_public_url(objects):
    # No public URL known: no push channels, calendars are synced periodically only.
    assert "CALENDAR_PUSH_URL" not in _calendar_sync(objects)
    ingress = {"apiGateway": {"ingress": {"enabled": True, "hosts": [{"host": "api.example.com"}]}}}
    assert _calendar_sync(render(ingress))["CALENDAR_PUSH_URL"] == "https://api.example.com"
    given = _merge(ingress, {"calendarSync": {"pushUrl": "https://hooks.example.com/"}})
    assert _calendar_sync(render(given))["CALENDAR_PUSH_URL"] == "https://hooks.example.com"
    off = _merge(ingress, {"calendarSync": {"pushUrlFromIngress": False}})
    assert "CALENDAR_PUSH_URL" not in _calendar_sync(render(off))
    # Google and Microsoft push only to https; a test double in development may listen on http.
    with pytest.raises(helm.HelmRenderError, match="calendarSync.pushUrl"):
        render({"calendarSync": {"pushUrl": "http://api.example.com"}})
    development = {"environment": "development", "calendarSync": {"pushUrl": "http://gw:8080"}}
    assert _calendar_sync(render(development))["CALENDAR_PUSH_URL"] == "http://gw:8080"


def test_gateway_outlives_its_slowest_request_on_shutdown(objects):
    spec = by_kind(objects, "Deployment")["api-gateway"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    slowest = GatewaySettings.model_fields["calendar_timeout_s"].default
    assert spec["terminationGracePeriodSeconds"] > int(pre_stop[1]) + slowest
