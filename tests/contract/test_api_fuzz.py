"""The OpenAPI document is a contract (decision 70): schemathesis with every check on passes against the running
stack, errors included, and no generated input, valid or not, makes the API answer 5xx or a service log an error.

- :func:`test_the_document_is_a_contract`: ``schemathesis run --checks all`` (response schemas and headers, status
  codes, content types, 405 with ``Allow``, schema-valid requests accepted and invalid ones refused, missing
  headers, authentication enforced...) over every operation, deterministic, in its examples, coverage and fuzzing
  phases, each operation with the demo token of a role it grants (:func:`credentials`). Run it against any stack:
  ``.venv/bin/python tests/contract/test_api_fuzz.py http://127.0.0.1:8000``.
- :func:`test_no_input_makes_a_5xx`, per operation: examples with one query or path parameter or one body field (at
  any depth) replaced by a random extreme value (``conftest.py``: integers beyond 64 bits, dates at year 1 and 9999
  with offsets, lone surrogates, astral text, nesting past the limit); a sweep: one valid example with each
  parameter and each body field (and field of a nested object) set in turn to each of a few extreme values of every
  kind (the kinds issue 10 found answering 500); raw bodies no JSON encoder would write (20,000 nested arrays, a
  lone surrogate as a key, a 5,000-digit number).

Operations are driven one by one with hypothesis (schemathesis' pytest plugin does not load under pytest 9 with
importlib mode)."""
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from township_shared.testing import as_actor
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

pytestmark = pytest.mark.integration
# the all-checks run: examples per operation in the fuzzing phase (the coverage phase sends every case it derives
# from the schema, most of the run's requests)
CONTRACT_EXAMPLES = 5
# what the positive_data_acceptance check takes as "accepted": schemathesis' own list, 422, the answer to a
# well-formed request refused by what it names (an unknown village) or a rule the document cannot state, and 413, a
# body over MAX_BODY_BYTES (bytes no JSON schema counts); a 400 (the request breaks the document) still fails it
# (decision 70)
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "413", "422", "429", "5xx"]
# what negative_data_rejection takes as "refused": schemathesis' own list and 413 (a body over MAX_BODY_BYTES)
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXTREME_EXAMPLES_PER_OPERATION = 8
# every parameter and every body field (and field of a nested object) of every operation gets each of these once
SWEEP_URL_VALUES = [str(2**64), "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00", "x" * 5000]
SWEEP_BODY_VALUES = [2**64, 1e308, "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00", "a\ud800",
                     [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]
# a body the API accepts, where schemathesis' examples are refused before anything is stored (a phone number must
# be one), so the sweep of its fields reaches the storage
SWEEP_BODIES = {("POST", "/api/v1/demands"): {
    "channel": "hotline", "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"},
    "village": "dongpo", "category": "drinking_water", "title": "停水三天", "description": "东坡村三组停水三天了",
    "location": {"lat": 29.2101, "long": 119.4702}}}
RAW_BODIES = ["[" * 20_000 + "]" * 20_000, '{"a": ' * 5_000 + "1" + "}" * 5_000, '{"\\ud800": 1}',
              '{"title": "\\udc00"}', '"\\ud83d"', "[1e999]", '{"n": ' + "9" * 5000 + "}"]


def _pick(body, path):
    """The path of one field of ``body`` chosen by ``path`` (indices into the sorted keys of each level; it stops
    descending at a field that is not an object)."""
    chosen, node = [], body
    for step in path:
        key = sorted(node)[step % len(node)]
        chosen.append(key)
        if isinstance(node[key], dict) and node[key] and step % 3:
            node = node[key]
            continue
        return tuple(chosen)
    return tuple(chosen)


def _with_url_value(case, where, path, url_value):
    """Put ``url_value`` into one path parameter (``where`` = path) or query parameter of the case."""
    params = case.path_parameters if where == "path" and case.path_parameters else case.query
    if not params:
        params = case.path_parameters
    if params:
        params[sorted(params)[path[0] % len(params)]] = url_value


def _body_targets(operation):
    """Paths of every field of the operation's JSON body: each property, and each property of an object one."""
    targets = []
    for body in operation.body:
        for name, prop in sorted((body.resolved_schema.get("properties") or {}).items()):
            targets.append((name,))
            options = [prop] + list(prop.get("anyOf") or [])
            for option in options:
                targets += [(name, sub) for sub in sorted(option.get("properties") or {})]
    return list(dict.fromkeys(targets))


# the demo actor whose token drives an operation: the first role the operation grants (its description says
# "Roles: ..."), so the fuzzing reaches the route's service instead of stopping at 401
DEMO_ACTORS = {"office": "office", "unit": "unit:water_station", "party_member": "party_member:pm001",
               "volunteer": "volunteer:v001", "social_org": "social_org:so_sunshine_elderly",
               "supervision": "supervision:dongpo_residents", "meeting": "meeting:secretary"}


def credentials(operation) -> dict:
    return credentials_for(operation.definition.raw)


def credentials_for(definition: dict) -> dict:
    """Headers that act as the demo actor of the first role the operation (its OpenAPI definition) grants; a token
    addresses its own township (``X-Township-Id`` pinned where the operation takes it: another would be 403)."""
    roles = (definition.get("description") or "").removeprefix("Roles: ").split(", ")
    takes_township = any(p.get("name") == "X-Township-Id" for p in definition.get("parameters") or ())
    for role in roles:
        if role in DEMO_ACTORS:
            return {**as_actor(DEMO_ACTORS[role]), **({"X-Township-Id": "qingshui"} if takes_township else {})}
        if role == "county":
            return {**as_actor("county:lanxi", None), "X-Township-Id": "qingshui"}
    return {}


def contract_config(document: dict) -> str:
    """schemathesis.toml for the all-checks run: each operation with its credentials (:func:`credentials_for`).

    Its fuzzing phase's error feedback (which reads 4xx bodies to steer generation) is off: it took the ``fields``
    of our 422 bodies for a body property and sent it as schema-valid data, which the API rightly refuses."""
    lines = ["[phases.fuzzing.error-feedback]", "enabled = false", "",
             "[checks.positive_data_acceptance]", f"expected-statuses = {json.dumps(ACCEPTED)}", "",
             "[checks.negative_data_rejection]", f"expected-statuses = {json.dumps(REFUSED)}", ""]
    for path, operations in document["paths"].items():
        for method, definition in operations.items():
            headers = credentials_for(definition)
            if headers:
                lines += ["[[operations]]", f"include-name = {json.dumps(f'{method.upper()} {path}')}",
                          "headers = {" + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in headers.items())
                          + "}", ""]
    return "\n".join(lines)


def run_every_check(http_base: str, workdir: Path, examples: int = CONTRACT_EXAMPLES) -> subprocess.CompletedProcess:
    """``schemathesis run --checks all`` against ``http_base``, deterministic, in ``workdir`` (its config file)."""
    config = workdir / "schemathesis.toml"
    config.write_text(contract_config(requests.get(f"{http_base}/openapi.json", timeout=20).json()))
    command = [str(SCHEMATHESIS), "--config-file", str(config), "--no-color", "run", f"{http_base}/openapi.json",
               "--checks", "all", "--phases", "examples,coverage,fuzzing", "--generation-deterministic",
               "--max-examples", str(examples), "--workers", "1", "--request-timeout", "20",
               "--exclude-path", "/metrics"]  # Prometheus text of this process; its 401 is tested in test_security
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)


def test_the_document_is_a_contract(stack, http_base, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    result = run_every_check(http_base, tmp_path)
    output = result.stdout + result.stderr
    summary = output[output.find("=== FAILURES ==="):] if "=== FAILURES ===" in output else output[-6000:]
    assert result.returncode == 0, summary[:20000]
    assert " passed" in output and "unique failures" not in output, output[-3000:]
    # the document is generated from the routes: the CSV route is in it, as CSV
    csv = requests.get(f"{http_base}/api/v1/assessment.csv", headers=as_actor("office"), timeout=20)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv"), csv.text[:300]
    errors = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records
              if r.levelno >= logging.ERROR or (r.exc_info and "(expected)" not in r.getMessage())]
    assert not errors, "\n".join(errors)


def _send(case, http_base, body_path=None, value=None):
    """Send the case as it is, or with ``value`` at ``body_path`` of its JSON body, written by hand: JSON escapes a
    lone surrogate, which schemathesis cannot hash; with the credentials of a role the operation grants."""
    kwargs = case.as_transport_kwargs(base_url=http_base)
    kwargs["headers"] = {**(kwargs.get("headers") or {}), **credentials(case.operation)}
    if "json" in kwargs or body_path:
        body = kwargs.pop("json", None)
        if body_path:
            body = json.loads(json.dumps(body if isinstance(body, dict) else {}))
            node = body
            for key in body_path[:-1]:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            node[body_path[-1]] = value
        kwargs["data"] = json.dumps(body).encode()
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Type": "application/json"}
    return requests.request(**{**kwargs, "timeout": 20})


def test_no_input_makes_a_5xx(stack, http_base, caplog, extremes):
    caplog.set_level(logging.WARNING)
    schema = schemathesis.openapi.from_url(f"{http_base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures = []

    for operation in operations:
        if operation.path == "/health":
            continue

        @settings(max_examples=EXTREME_EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), where=st.sampled_from(["body", "query", "path"]),
               path=st.lists(st.integers(0, 40), min_size=1, max_size=4), value=extremes.EXTREMES,
               url_value=extremes.URL_EXTREMES)
        def run_extreme(case, where, path, value, url_value):
            body_mode = where == "body" and isinstance(case.body, dict) and case.body
            if not body_mode:
                _with_url_value(case, where, path, url_value)
            response = _send(case, http_base, _pick(case.body, path) if body_mode else None, value)
            if response.status_code >= 500:
                failures.append((f"extreme {where}", case.method, case.formatted_path, response.status_code,
                                 response.text[:300]))

        known = SWEEP_BODIES.get((operation.method.upper(), operation.path))

        @settings(max_examples=1, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(GenerationMode.POSITIVE, **({"body": known} if known else {})))
        def run_sweep(case):
            """One valid example, then each parameter and each body field set to each extreme value in turn."""
            sent = []
            for location, params in (("path", case.path_parameters), ("query", case.query)):
                for parameter in getattr(operation, f"{location}_parameters" if location == "path" else "query"):
                    for value in SWEEP_URL_VALUES:
                        saved = dict(params or {})
                        if params is None:
                            case.query = params = {}
                        params[parameter.name] = value
                        sent.append((f"{location} {parameter.name}", value, _send(case, http_base)))
                        params.clear()
                        params.update(saved)
            for target in _body_targets(operation):
                for value in SWEEP_BODY_VALUES:
                    sent.append((".".join(target), value, _send(case, http_base, target, value)))
            for where, value, response in sent:
                if response.status_code >= 500:
                    failures.append(("sweep", operation.method, operation.path, where, repr(value)[:60],
                                     response.status_code, response.text[:200]))

        for runner in (run_extreme, run_sweep):
            try:
                runner()
            except Exception as exc:  # collect every operation's failure before failing the test
                failures.append((runner.__name__, operation.method, operation.path, type(exc).__name__,
                                 str(exc)[:500]))
        if operation.method.upper() in ("POST", "PATCH", "PUT"):
            url = http_base + "/".join(part if not part.startswith("{") else "x1" for part in
                                       operation.path.split("/"))
            for raw in RAW_BODIES:
                res = requests.request(operation.method.upper(), url, data=raw.encode(), timeout=20,
                                       headers={"Content-Type": "application/json", **credentials(operation)})
                if res.status_code >= 500:
                    failures.append(("raw body", operation.method, operation.path, res.status_code, raw[:40],
                                     res.text[:300]))
    assert not failures, "\n".join(map(str, failures))
    errors = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records
              if r.levelno >= logging.ERROR or (r.exc_info and "(expected)" not in r.getMessage())]
    assert not errors, "\n".join(errors)


if __name__ == "__main__":  # the all-checks run against a running stack: python tests/contract/test_api_fuzz.py URL
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        finished = run_every_check(sys.argv[1].rstrip("/"), Path(workdir))
    print(finished.stdout, finished.stderr, sep="\n")
    sys.exit(finished.returncode)
