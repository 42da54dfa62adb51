"""Each placeholder rule (docs/definition.md, "Placeholders"), checked on what the stand-in actually received, in
each host."""

import json

from kit.harness import MASK


def sent_body(harness, call) -> dict:
    [record] = harness.standin.records(call.call_id)
    return json.loads(record["body"])


def test_whole_placeholders_keep_their_json_type(harness):
    def typed(definition, parameters):
        deployment = definition["httpRequest"]["body"]["spec"]["model_deployments"][0]
        deployment["workload_config"] = "${$.workload}"
        definition["httpRequest"]["body"]["spec"]["version"] = "${$.version}"
        parameters.update(workload={"max_tokens": 512, "tags": ["a", "b"]}, version=2)
        parameters["model"]["scale"] = 3

    call = harness.prepare(edit=typed)
    assert harness.call("test_request", call)["outcome"] == "accepted"
    spec = sent_body(harness, call)["spec"]
    assert spec["version"] == 2
    assert spec["enable_public_endpoint"] is True
    deployment = spec["model_deployments"][0]
    assert deployment["accelerators"][0]["scale"] == 3
    assert deployment["workload_config"] == {"max_tokens": 512, "tags": ["a", "b"]}


def test_placeholders_inside_text_become_text(harness):
    def embedded(definition, parameters):
        definition["httpRequest"]["body"]["spec"]["name"] = "${$.team}-${$.index}-${$.on}"
        parameters.update(team=parameters["name"], index=7, on=False)

    call = harness.prepare(edit=embedded)
    assert harness.call("test_request", call)["outcome"] == "accepted"
    assert sent_body(harness, call)["spec"]["name"] == f"{call.parameters['name']}-7-false"


def test_escape_and_single_pass(harness):
    def literal(definition, parameters):
        deployment = definition["httpRequest"]["body"]["spec"]["model_deployments"][0]
        deployment["model_slug"] = "$${$.not_evaluated} ${$.tricky}"
        parameters["tricky"] = "${$.name}"

    call = harness.prepare(edit=literal)
    assert harness.call("test_request", call)["outcome"] == "accepted"
    slug = sent_body(harness, call)["spec"]["model_deployments"][0]["model_slug"]
    assert slug == "${$.not_evaluated} ${$.name}"


def test_missing_and_ambiguous_selections_are_errors(harness):
    def broken(definition, parameters):
        body = definition["httpRequest"]["body"]
        body["spec"]["region"] = "${$.nowhere}"
        body["spec"]["vpc"]["uuid"] = "${$.model.*}"

    call = harness.prepare(edit=broken)
    result = harness.call("test_request", call, posts=0)
    assert result["outcome"] == "invalid" and result["request"] is None
    by_path = {d["path"]: d["message"] for d in result["diagnostics"]}
    assert "`${$.nowhere}`" in by_path["httpRequest.body.spec.region"]
    assert "parameters.nowhere" in by_path["httpRequest.body.spec.region"]
    assert "selects 3 values" in by_path["httpRequest.body.spec.vpc.uuid"]
    render = harness.call("render", harness.prepare(edit=broken), posts=0)
    assert {d["path"] for d in render["err"]} == set(by_path)


def test_url_placeholders_fill_only_path_and_query_percent_encoded(harness):
    def query(definition, parameters):
        definition["httpRequest"]["url"] += "?tag=${$.tag}&team=${$.team}"
        parameters.update(tag="a b&c=d/e#f", team="ops")

    call = harness.prepare(edit=query)
    result = harness.call("test_request", call)
    assert result["outcome"] == "accepted"
    assert result["request"]["url"].endswith("/v2/dedicated-inferences?tag=a%20b%26c%3Dd%2Fe%23f&team=ops")
    [record] = harness.standin.records(call.call_id)
    assert record["path"] == "/v2/dedicated-inferences?tag=a%20b%26c%3Dd%2Fe%23f&team=ops"


def test_parameters_cannot_redirect_the_request(harness):
    for url in ["http://${$.host}/v2/dedicated-inferences", "https://api.digitalocean.com${$.host}/v2"]:
        def redirect(definition, parameters, url=url):
            definition["httpRequest"]["url"] = url
            parameters["host"] = "evil.example"

        harness.assert_invalid(redirect, "httpRequest.url", "only the URL's path and query")


def test_header_placeholders_and_line_breaks(harness):
    def header(definition, parameters):
        definition["httpRequest"]["headers"]["X-Team"] = "team-${$.team}"
        parameters["team"] = "ops"

    call = harness.prepare(edit=header)
    assert harness.call("test_request", call)["outcome"] == "accepted"
    [record] = harness.standin.records(call.call_id)
    assert record["headers"]["x-team"] == "team-ops"

    def injection(definition, parameters):
        definition["httpRequest"]["headers"]["X-Team"] = "${$.team}"
        parameters["team"] = "ops\r\nX-Injected: yes"

    harness.assert_invalid(injection, "httpRequest.headers.X-Team", "line break")


def test_defaults_content_type_and_authorization(harness):
    def no_headers(definition, _):
        definition["httpRequest"]["headers"] = {"X-Call-Id": definition["httpRequest"]["headers"]["X-Call-Id"]}

    call = harness.prepare(edit=no_headers)
    result = harness.call("test_request", call)
    assert result["outcome"] == "accepted"
    [record] = harness.standin.records(call.call_id)
    assert record["headers"]["content-type"] == "application/json"
    assert record["headers"]["authorization"] == f"Bearer {call.secrets['token']}"
    assert record["content_length"] == len(record["body"].encode())
    shown = {h["name"].lower(): h["value"] for h in result["request"]["headers"]}
    assert shown["authorization"] == f"Bearer {MASK}"
    assert shown["content-length"] == str(record["content_length"])


def test_secret_placeholders_take_the_hosts_secrets(harness):
    """`${secret:NAME}` is filled from task-input.secrets, sent, and masked everywhere; a
    render without the secret (the editor's live preview) shows it masked without an error;
    a call without it sends nothing."""
    hf_token = "hf_fromCredentials0123456789abcdef"

    def from_credentials(definition, parameters):
        tokens = definition["httpRequest"]["body"]["access_tokens"]
        tokens["hugging_face_token"] = "${secret:hugging_face_token}"
        parameters.pop("huggingFaceToken")

    call = harness.prepare(edit=from_credentials)
    call.secrets["hugging_face_token"] = hf_token
    assert harness.call("test_request", call)["outcome"] == "accepted"
    assert sent_body(harness, call)["access_tokens"]["hugging_face_token"] == hf_token

    rendered = harness.call("render", harness.prepare(edit=from_credentials), posts=0)["ok"]
    assert rendered["warnings"] == []
    body = json.loads(rendered["request"]["body"])
    assert body["access_tokens"]["hugging_face_token"] == MASK

    harness.assert_invalid(
        from_credentials, "httpRequest.body.access_tokens.hugging_face_token", "credentials"
    )


PROD_VPC = "0d6e1a2b-1111-4c3d-9e8f-0a1b2c3d4e5f"
STAGING_VPC = "7f3e2d1c-2222-4b5a-8c9d-1e2f3a4b5c6d"


def test_regex_functions_filter_with_i_regexps(harness):
    """`match()` anchors the whole string, `search()` does not, `.` stops at line ends, and a
    pattern that is not an I-Regexp matches nothing (its filter is false, not an error)."""

    def pick(definition, parameters):
        spec = definition["httpRequest"]["body"]["spec"]
        spec["region"] = "${$.regions[?match(@.slug, 'tor.')].slug}"
        spec["vpc"]["uuid"] = "${$.vpcs[?search(@.name, $.wanted)].uuid}"
        parameters.update(
            regions=[{"slug": "nyc2"}, {"slug": "tor1x"}, {"slug": "tor1"}, {"slug": "tor\n"}],
            vpcs=[{"name": "prod-main", "uuid": PROD_VPC}, {"name": "staging-main", "uuid": STAGING_VPC}],
            wanted="^stag",
        )

    call = harness.prepare(edit=pick)
    result = harness.call("test_request", call)
    assert result["outcome"] == "accepted", result["diagnostics"]
    spec = sent_body(harness, call)["spec"]
    assert spec["region"] == "tor1" and spec["vpc"]["uuid"] == STAGING_VPC

    def not_an_i_regexp(definition, parameters):
        pick(definition, parameters)
        definition["httpRequest"]["body"]["spec"]["region"] = "${$.regions[?match(@.slug, 'tor\\\\d')].slug}"

    harness.assert_invalid(not_an_i_regexp, "httpRequest.body.spec.region", "selects nothing")


def test_jsonata_computes_values_with_the_same_rules(harness):
    """The issue's three examples, on the wire, in each host."""

    def computed(definition, parameters):
        spec = definition["httpRequest"]["body"]["spec"]
        # The call's own name (the stand-in tells calls apart by it), upper-cased and back.
        spec["name"] = "${jsonata: $lowercase(team)}"
        spec["model_deployments"] = (
            "${jsonata: [models.{'model_slug': slug, 'model_provider': 'hugging_face', 'accelerators': "
            "[{'type': 'prefill_decode', 'scale': $count($$.models) > 1 ? 2 : 1, 'accelerator_slug': gpu}]}]}"
        )
        parameters.update(team=parameters["name"].upper(), models=[{"slug": "m/a", "gpu": "gpu-h100x1-80gb"},
                                                   {"slug": "m/b", "gpu": "gpu-h100x1-80gb"}])

    call = harness.prepare(edit=computed)
    assert harness.call("test_request", call)["outcome"] == "accepted"
    spec = sent_body(harness, call)["spec"]
    assert spec["name"] == call.parameters["name"].upper().lower()
    assert [d["model_slug"] for d in spec["model_deployments"]] == ["m/a", "m/b"]
    # A whole JSONata number is the integer `scale` must be.
    assert spec["model_deployments"][0]["accelerators"][0]["scale"] == 2
