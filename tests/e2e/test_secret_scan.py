"""The secret scan: every string the component returned in this session (render, test-request
and execute, across the outcome tests, the fault matrix, the load run and the hostile inputs)
is searched for every secret value of its call: the API token, the access tokens, and the token
the API returned once (outside `revealed-secrets` and `execute`'s Ok, which the harness leaves
out on purpose). Runs last (see conftest.py)."""

from conftest import leaked, report


def count_strings(value) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, dict):
        return sum(count_strings(k) + count_strings(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(count_strings(v) for v in value)
    return 0


def test_no_secret_in_any_output(harness):
    outputs = harness.outputs
    strings = sum(count_strings(result) for _, result, _ in outputs)
    found = [(function, place) for function, result, secrets in outputs for place in leaked(result, secrets)]
    report("secret-scan", f"{len(outputs)} results, {strings} strings scanned, {len(found)} secrets found")
    assert not found, found[:10]
    # The scan covered the suite, not a handful of calls (fewer when run with -k).
    assert len(outputs) >= 1 and strings >= len(outputs)
