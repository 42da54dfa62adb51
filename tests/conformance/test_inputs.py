"""Bad input of every kind gets an `invalid` result with the field path, never a trap, and is
never sent; `describe` and `render` give the editor what it needs."""

import json

import pytest

from kit.harness import API_TOKEN, HF_TOKEN, MASK, load_fixture


def raw_input(definition, parameters="{}", secrets=None):
    """A task input with definition/parameters passed verbatim (strings are not re-encoded)."""
    return {"definition": definition, "parameters": parameters, "secrets": secrets or {"token": API_TOKEN}}


@pytest.mark.parametrize(
    "definition,parameters,path",
    [
        ("{", "{}", "definition"),
        ("", "{}", "definition"),
        ("[1, 2]", "{}", "definition"),
        ("null", "{}", "definition"),
        (json.dumps(load_fixture("definition.json")), "{not json", "parameters"),
        (json.dumps(load_fixture("definition.json")), "42", "parameters"),
        ("{}", "{}", "httpRequest"),
        ('{"httpRequest": {"method": "POST", "body": {}}}', "{}", "httpRequest.url"),
        ('{"httpRequest": {"url": 5, "method": "POST", "body": {}}}', "{}", "httpRequest.url"),
        ('{"httpRequest": {"url": "https://api.digitalocean.com/v2", "method": "GET", "body": {}}}', "{}", "httpRequest.method"),
        ('{"httpRequest": {"url": "https://api.digitalocean.com/v2", "method": "POST"}}', "{}", "httpRequest.body"),
        ('{"httpRequest": {"url": "https://api.digitalocean.com/v2", "method": "POST", "body": []}}', "{}", "httpRequest.body"),
        ("[" * 1000 + "]" * 1000, "{}", "definition"),
    ],
)
def test_malformed_input_is_invalid_with_a_path(harness, definition, parameters, path):
    for function in ("test_request", "execute", "render"):
        result = harness.raw(function, raw_input(definition, parameters))
        diagnostics = {
            "test_request": lambda r: r["diagnostics"],
            "execute": lambda r: r["err"]["diagnostics"],
            "render": lambda r: r["err"],
        }[function](result)
        errors = [d for d in diagnostics if d["severity"] == "error"]
        assert errors and errors[0]["path"] == path, (function, diagnostics)
    assert harness.raw("test_request", raw_input(definition, parameters))["outcome"] == "invalid"
    assert harness.raw("execute", raw_input(definition, parameters))["err"]["kind"] == "invalid-request"


def test_unknown_fields_warn(harness):
    definition = load_fixture("definition.json")
    definition["readTimeoutSecond"] = 3
    result = harness.raw("render", raw_input(json.dumps(definition), json.dumps(load_fixture("parameters.json"))))
    assert "ok" in result  # warnings do not block
    # 0.2.0: render's Ok carries the warnings the request would be sent with.
    [warning] = [w for w in result["ok"]["warnings"] if w["path"] == "readTimeoutSecond"]
    assert warning["severity"] == "warning" and "readTimeoutSeconds" in warning["message"]
    warned = harness.raw("test_request", raw_input(json.dumps(definition), "{}"))
    assert any(d["path"] == "readTimeoutSecond" and "readTimeoutSeconds" in d["message"] for d in warned["diagnostics"])


def test_render_shows_the_masked_request(harness):
    result = harness.raw("render", raw_input(json.dumps(load_fixture("definition.json")), json.dumps(load_fixture("parameters.json"))))
    preview = result["ok"]["request"]
    assert result["ok"]["warnings"] == []  # the ready definition earns none
    assert preview["method"] == "POST"
    assert preview["url"] == "https://api.digitalocean.com/v2/dedicated-inferences"
    body = json.loads(preview["body"])
    assert body["access_tokens"]["hugging_face_token"] == MASK
    assert body["spec"]["model_deployments"][0]["accelerators"][0]["scale"] == 1
    assert list(body["spec"]) == ["version", "name", "region", "vpc", "enable_public_endpoint", "model_deployments"]
    text = json.dumps(preview)
    assert API_TOKEN not in text and load_fixture("parameters.json")["huggingFaceToken"] not in text


def test_validation_errors_list_every_problem_with_paths(harness):
    parameters = load_fixture("parameters.json")
    parameters.update(name="bad name!", region=7, publicEndpoint="yes")
    parameters["model"]["scale"] = 1.5
    result = harness.raw("render", raw_input(json.dumps(load_fixture("definition.json")), json.dumps(parameters)))
    by_path = {d["path"]: d for d in result["err"]}
    assert set(by_path) >= {
        "httpRequest.body.spec.name",
        "httpRequest.body.spec.region",
        "httpRequest.body.spec.enable_public_endpoint",
        "httpRequest.body.spec.model_deployments[0].accelerators[0].scale",
    }
    assert by_path["httpRequest.body.spec.region"]["message"] == "expected a string, found an integer (7)"


def test_describe(harness):
    info = harness.adapter.call("describe")
    assert (info["method"], info["server"], info["path"]) == ("POST", "https://api.digitalocean.com", "/v2/dedicated-inferences")
    assert "202" in info["description"] and "DELETE" in info["description"]
    headers = {h["path"]: h for h in info["headers"]}
    assert headers["Content-Type"]["default_value"] == "application/json"
    fields = {f["path"]: f for f in info["body_fields"]}
    assert fields["spec.region"]["allowed_values"] == ["atl1", "nyc2", "tor1"]
    assert fields["spec.model_deployments"]["required"] and fields["spec.model_deployments"]["type_name"] == "array"
    assert not fields["access_tokens"]["required"]
    task_input = {"definition": info["default_definition"], "parameters": info["example_parameters"], "secrets": {"token": API_TOKEN}}
    assert "ok" in harness.raw("render", task_input)


def test_secrets_in_odd_shapes_are_masked(harness):
    """A token that is short, unicode, or a substring of other text is still masked."""
    for secret in ["é", "ops", "tor1", "токен-секрет"]:
        call = harness.prepare()
        call.secrets = {"token": "dop_v1_" + "x" * 20, "extra": secret}
        harness.call("test_request", call)  # the harness fails on any leak
    call = harness.prepare()
    call.parameters["huggingFaceToken"] = "support"
    result = harness.call("test_request", call)
    assert "support" not in json.dumps(result["request"]) and HF_TOKEN not in json.dumps(result)
