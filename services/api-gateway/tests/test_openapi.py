"""The gateway's OpenAPI document, generated from its code, against its routes and against the
reference Meeting BaaS API v1 document (`shared/reference/meeting-baas-openapi.json`, beside the
repository). Pure: the application is built, never started."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_gateway.app import PUBLIC_PATHS, build_app
from api_gateway.bots import bot_with_params
from api_gateway.openapi import DOCS_HTML, DOCUMENT, OPERATIONS, documented
from api_gateway.schemas import MEETING_URL_PATTERN, WEBHOOK_URL_PATTERN
from api_gateway.settings import GatewaySettings
from mb_shared.contracts.bot import BotParams, BotStatus, Platform, SpeechToText
from mb_shared.contracts.queries import BotView
from mb_shared.contracts.recording import RecordingArtifacts
from mb_shared.meeting_urls import parse_meeting_url

REFERENCE = (Path(__file__).resolve().parents[3]
             / "../shared/reference/meeting-baas-openapi.json").resolve()
ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


@pytest.fixture(scope="module")
def app():
    return build_app(GatewaySettings(DATABASE_URL="postgresql://x@127.0.0.1/x"))


@pytest.fixture(scope="module")
def ours(app) -> dict[str, Any]:
    return app[DOCUMENT]


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        pytest.fail(f"The reference OpenAPI document is missing: expected {REFERENCE} (the "
                    "shared/ folder beside the repository, as on every developer's machine and "
                    "in CI).")
    return json.loads(REFERENCE.read_text())


#: Where ours differs from the reference's schema, on purpose, because the reference's own text
#: says otherwise than its schema. Nothing else may differ.
DEVIATIONS = {
    "GET /calendar_events/ status:": "the parameter's own description lists the valid values",
    "PATCH /calendar_events/{uuid}/bot.extra:": "an object, as `extra` is in BotParam2 and "
                                                "JoinRequest; BotParam3 leaves it untyped",
    "GET /bots/bots_with_metadata 200.bots[].id:": "its description says it is \"serialized as a "
                                                   "UUID string\", as list-bots-with-metadata.md "
                                                   "shows",
}


def reference_operations(reference: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the reference document."""
    return [(method.upper(), path, op) for path, item in reference["paths"].items()
            for method, op in item.items()]


def unexplained(problems: list[str]) -> list[str]:
    """The problems that `DEVIATIONS` does not account for."""
    return [p for p in problems if not p.startswith(tuple(DEVIATIONS))]


# --- routes and registry ------------------------------------------------------------------------


def test_every_route_has_a_registry_entry_and_every_entry_a_route(app):
    routes = {(route.method, route.resource.canonical) for route in app.router.routes()
              if route.method != "HEAD"}
    assert routes == set(OPERATIONS)


def test_the_document_has_every_documented_operation_once(ours):
    in_document = {(method.upper(), path) for path, item in ours["paths"].items()
                   for method in item}
    assert in_document == set(documented())
    ids = [op["operationId"] for item in ours["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_fixed_bot_paths_are_not_taken_for_a_bot_id(app):
    fixed = {route.resource.canonical for route in app.router.routes()
             if re.fullmatch(r"/bots/[a-z_]+", route.resource.canonical)}
    assert fixed
    for route in app.router.routes():
        if route.resource.canonical == "/bots/{uuid}":
            for path in fixed:
                assert route.resource._match(path) is None, path
            assert route.resource._match(f"/bots/{uuid4()}") is not None


def test_the_document_and_the_page_need_no_key(app):
    assert {"/openapi.json", "/docs"} <= PUBLIC_PATHS
    doc = app[DOCUMENT]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert doc["paths"]["/docs"]["get"]["security"] == []


def test_every_ref_resolves_and_every_error_is_the_error_body(ours):
    text = json.dumps(ours)
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in ours["components"]["schemas"], name
    for path, item in ours["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)
            if op["security"]:
                assert "401" in op["responses"], (method, path)
    error = ours["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}
    assert {"code", "message", "field", "errors"} == set(error["properties"])


def test_the_security_scheme_is_the_reference_one(ours, reference):
    assert ours["components"]["securitySchemes"]["ApiKeyAuth"] == \
        reference["components"]["securitySchemes"]["ApiKeyAuth"]
    assert ours["security"] == [{"ApiKeyAuth": []}]


def test_the_settings_bound_automatic_leave():
    app = build_app(GatewaySettings(DATABASE_URL="postgresql://x@127.0.0.1/x",
                                    GATEWAY_MIN_WAITING_ROOM_TIMEOUT_S=5,
                                    GATEWAY_MAX_AUTOMATIC_LEAVE_S=900))
    leave = app[DOCUMENT]["components"]["schemas"]["AutomaticLeaveRequest"]["properties"]
    branch = leave["waiting_room_timeout"]["anyOf"][0]
    assert (branch["minimum"], branch["maximum"]) == (5, 900)


def test_the_docs_page_shows_every_path_parameter_and_schema(app):
    page = app[DOCS_HTML]
    doc = app[DOCUMENT]
    assert page.startswith("<!doctype html>")
    assert "<script" not in page and "https://" not in page.split("</style>")[0]
    for path, item in doc["paths"].items():
        assert path in page
        for op in item.values():
            for param in op.get("parameters", []):
                assert f"<code>{param['name']}</code>" in page
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page


# --- against the reference ----------------------------------------------------------------------


def test_every_reference_bots_and_accounts_operation_is_served(ours, reference):
    missing = [(method, path) for method, path, _ in reference_operations(reference)
               if method.lower() not in ours["paths"].get(path, {})]
    assert not missing


def test_parameters_are_the_reference_ones(ours, reference):
    for method, path, ref_op in reference_operations(reference):
        op = ours["paths"][path][method.lower()]
        expected = {(p["name"], p["in"], bool(p.get("required"))) for p in ref_op.get("parameters", [])}
        got = {(p["name"], p["in"], bool(p.get("required"))) for p in op.get("parameters", [])}
        assert got == expected, (method, path)
        ref_params = {p["name"]: p for p in ref_op.get("parameters", [])}
        for param in op.get("parameters", []):
            problems = accepts(ours, param["schema"], reference, ref_params[param["name"]]["schema"],
                               f"{method} {path} {param['name']}", query=param["in"] == "query")
            assert not unexplained(problems), problems


def test_request_bodies_accept_everything_the_reference_accepts(ours, reference):
    for method, path, ref_op in reference_operations(reference):
        op = ours["paths"][path][method.lower()]
        if "requestBody" not in ref_op:
            continue
        assert "requestBody" in op, (method, path)
        ref_schema = ref_op["requestBody"]["content"]["application/json"]["schema"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        problems = accepts(ours, schema, reference, ref_schema, f"{method} {path}")
        assert not unexplained(problems), problems


def test_responses_give_everything_the_reference_promises(ours, reference):
    for method, path, ref_op in reference_operations(reference):
        op = ours["paths"][path][method.lower()]
        success = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        ref_success = {s: r for s, r in ref_op["responses"].items() if s.startswith("2")}
        assert set(success) <= set(ref_success), (method, path, set(success))
        for status, response in success.items():
            ref_content = ref_success[status].get("content", {}).get("application/json")
            if not ref_content or not ref_content.get("schema"):
                continue
            schema = response["content"]["application/json"]["schema"]
            problems = conforms(ours, schema, reference, ref_content["schema"],
                                f"{method} {path} {status}")
            assert not unexplained(problems), problems


def test_reference_error_statuses_are_documented(ours, reference):
    for method, path, ref_op in reference_operations(reference):
        op = ours["paths"][path][method.lower()]
        for status in ref_op["responses"]:
            if status.startswith(("4", "5")) and status != "403":  # no per-bot permissions here
                assert status in op["responses"], (method, path, status)


def test_the_reference_account_schemas_are_kept(ours, reference):
    """The reference has no `/accounts` paths, only their schemas; ours follow them."""
    ref = reference["components"]["schemas"]
    pairs = [("POST", "/accounts/webhook_url", "PostWebhookUrlRequest", "GetWebhookUrlResponse"),
             ("GET", "/accounts/webhook_url", None, "GetWebhookUrlResponse"),
             ("POST", "/accounts/api_keys", None, "ApiKeyResponse")]
    for method, path, request, response in pairs:
        op = ours["paths"][path][method.lower()]
        if request:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert not accepts(ours, schema, reference, ref[request], path)
        success = next(r for s, r in op["responses"].items() if s.startswith("2"))
        schema = success["content"]["application/json"]["schema"]
        assert not conforms(ours, schema, reference, ref[response], path)


# --- responses built by the handlers' code against the document ---------------------------------


def validator(ours: dict[str, Any], name: str):
    import jsonschema_rs

    schema = {"$ref": f"#/components/schemas/{name}", "components": ours["components"]}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def test_a_bot_built_by_the_handlers_fits_the_document(ours):
    now = datetime.now(UTC)
    params = BotParams(meeting_url="https://meet.google.com/abc-defg-hij",
                       platform=Platform.GOOGLE_MEET, bot_name="Bot", extra={"a": 1},
                       speech_to_text=SpeechToText(), transcription_custom_parameters="x",
                       streaming={"input": "wss://in", "audio_frequency": "16khz"})
    view = BotView(id=1, bot_id=uuid4(), account_id=2, params=params, status=BotStatus.FAILED,
                   error="CannotJoinMeeting", reason="cancelled", message="gone",
                   created_at=now, joined_at=None, exited_at=None, ended_at=now,
                   artifacts=RecordingArtifacts(), duration_s=0.0, speakers=[], history=[])
    body = bot_with_params(view).model_dump(mode="json")
    validator(ours, "BotWithParams").validate(body)


# --- the patterns the document promises ---------------------------------------------------------


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(MEETING_URL_PATTERN))
def test_every_meeting_url_the_document_allows_is_accepted(url):
    parse_meeting_url(url)


@pytest.mark.parametrize("url", [
    "https://meet.google.com/abc-defg-hij",
    "meet.google.com/abc-defg-hij?authuser=0&hs=122",
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ@thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%7d",
    "https://teams.live.com/meet/9876543210123",
    "https://us02web.zoom.us/j/12345678901?pwd=abcDEF.1",
    "https://www.google.com/url?q=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij&sa=D",
])
def test_real_meeting_urls_fit_the_document(url):
    assert re.search(MEETING_URL_PATTERN, url)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(WEBHOOK_URL_PATTERN))
def test_every_webhook_url_the_document_allows_is_accepted(url):
    """...as to its shape: what JSON Schema cannot say (a private address, a single-label name)
    is left to the SSRF guard, whose refusal is the only one."""
    from api_gateway.accounts_routes import _valid_webhook_url
    from api_gateway.errors import ApiError
    from mb_shared.url_guard import OutboundPolicy

    try:
        _valid_webhook_url(url, OutboundPolicy())
    except ApiError as refused:
        assert refused.code == "UnsafeUrl", refused.message


# --- schema compatibility -----------------------------------------------------------------------


def resolve(doc: dict[str, Any], schema: Any) -> Any:
    """Follow `$ref`s (keywords beside a `$ref` are kept)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        target = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest}
        seen += 1
    return schema


def branches(doc: dict[str, Any], schema: Any) -> list[Any]:
    """The alternatives of a schema, flattened through anyOf/oneOf and refs."""
    schema = resolve(doc, schema)
    if isinstance(schema, dict):
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k != key}
                return [b for sub in schema[key] for b in branches(doc, {**rest, **sub})]
    return [schema]


def types(doc: dict[str, Any], schema: Any) -> set[str]:
    found: set[str] = set()
    for branch in branches(doc, schema):
        if branch is True or branch == {} or not isinstance(branch, dict):
            found |= ALL_TYPES if branch is not False else set()
        elif "type" in branch:
            kind = branch["type"]
            found |= set(kind if isinstance(kind, list) else [kind])
        elif "enum" in branch or "const" in branch:
            found |= {_json_type(v) for v in branch.get("enum", [branch.get("const")])}
        elif {"properties", "additionalProperties", "required"} & set(branch):
            found.add("object")
        else:
            found |= ALL_TYPES
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(value)]


def values(doc: dict[str, Any], schema: Any) -> set[str] | None:
    """The finite set of values a schema allows (JSON-encoded), or None when it is not finite."""
    out: set[str] = set()
    for branch in branches(doc, schema):
        if isinstance(branch, dict) and "enum" in branch:
            out |= {json.dumps(v) for v in branch["enum"]}
        elif isinstance(branch, dict) and "const" in branch:
            out.add(json.dumps(branch["const"]))
        elif isinstance(branch, dict) and branch.get("type") == "null":
            out.add("null")
        else:
            return None
    return out


def subset(small: set[str], large: set[str]) -> bool:
    return all(t in large or (t == "integer" and "number" in large) for t in small)


def objects(doc: dict[str, Any], schema: Any) -> list[dict[str, Any]]:
    return [b for b in branches(doc, schema) if isinstance(b, dict) and "object" in types(doc, b)]


def items(doc: dict[str, Any], schema: Any) -> Any:
    for branch in branches(doc, schema):
        if isinstance(branch, dict) and "items" in branch:
            return branch["items"]
    return None


def accepts(ours: dict, schema: Any, ref: dict, ref_schema: Any, where: str, *,
            query: bool = False, depth: int = 0) -> list[str]:
    """Whatever the reference accepts, ours accepts (types, enums, properties, items)."""
    if depth > 8:
        return []
    ref_types, our_types = types(ref, ref_schema), types(ours, schema)
    if query:  # a query string has no null
        ref_types, our_types = ref_types - {"null"}, our_types - {"null"}
    if not subset(ref_types, our_types):
        return [f"{where}: the reference accepts {sorted(ref_types)}, ours {sorted(our_types)}"]
    ref_values, our_values = values(ref, ref_schema), values(ours, schema)
    if our_values is not None and (ref_values is None or not ref_values <= our_values):
        return [f"{where}: the reference accepts {ref_values}, ours only {our_values}"]
    problems: list[str] = []
    our_objects = objects(ours, schema)
    for ref_object in objects(ref, ref_schema):
        for name, ref_prop in ref_object.get("properties", {}).items():
            props = [o["properties"][name] for o in our_objects if name in o.get("properties", {})]
            if not props:
                if not any(o.get("additionalProperties", True) is not False for o in our_objects):
                    problems.append(f"{where}.{name}: not accepted")
                continue
            problems += accepts(ours, props[0], ref, ref_prop, f"{where}.{name}", depth=depth + 1)
    ref_items, our_items = items(ref, ref_schema), items(ours, schema)
    if ref_items is not None and our_items is not None:
        problems += accepts(ours, our_items, ref, ref_items, f"{where}[]", depth=depth + 1)
    return problems


def conforms(ours: dict, schema: Any, ref: dict, ref_schema: Any, where: str, *,
             depth: int = 0) -> list[str]:
    """Whatever ours answers, the reference's clients can read: every property the reference
    requires is there, with a type (and values) the reference allows."""
    if depth > 8:
        return []
    ref_types, our_types = types(ref, ref_schema), types(ours, schema)
    if not subset(our_types, ref_types):
        return [f"{where}: the reference gives {sorted(ref_types)}, ours {sorted(our_types)}"]
    ref_values, our_values = values(ref, ref_schema), values(ours, schema)
    if ref_values is not None and (our_values is None or not our_values <= ref_values):
        return [f"{where}: the reference gives {ref_values}, ours {our_values}"]
    problems: list[str] = []
    ref_objects = objects(ref, ref_schema)
    for our_object in objects(ours, schema):
        for ref_object in ref_objects:
            for name in ref_object.get("required", []):
                if name not in our_object.get("required", []):
                    problems.append(f"{where}.{name}: required by the reference, not always "
                                    "given by ours")
                    continue
                problems += conforms(ours, our_object["properties"][name], ref,
                                     ref_object["properties"][name], f"{where}.{name}",
                                     depth=depth + 1)
    ref_items, our_items = items(ref, ref_schema), items(ours, schema)
    if ref_items is not None and our_items is not None:
        problems += conforms(ours, our_items, ref, ref_items, f"{where}[]", depth=depth + 1)
    return problems
