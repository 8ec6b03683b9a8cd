"""Every detail an error body can carry is a field of the OpenAPI document's ``Error`` schema, which allows no other
(decision 70): the services' raises are read, so a detail the fuzzing never reaches is checked too."""
import ast
from pathlib import Path

from gateway.openapi import ErrorSchema
from township_shared import errors

ROOT = Path(__file__).resolve().parents[2]
# the errors the gateway answers with (from_remote maps them by class name); Refused is for events only
ANSWERED = {cls.__name__ for cls in errors.EXPECTED}
ERROR_FIELDS = {field.data_key or name for name, field in ErrorSchema().fields.items()}


def raised_details() -> dict[str, set[str]]:
    """detail name -> where a service or the gateway raises an answered error naming it."""
    found: dict[str, set[str]] = {}
    sources = [*ROOT.glob("services/*/*/**/*.py"), *ROOT.glob("shared/township_shared/**/*.py")]
    for path in sources:
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in ANSWERED:
                for keyword in node.keywords:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(keyword.arg or f"**{ast.unparse(keyword.value)}", set()).add(where)
    return found


def test_the_scan_finds_the_details_it_should():
    details = raised_details()
    assert {"allowed", "id", "township_id", "limit", "max_bytes"} <= set(details), sorted(details)


def test_every_detail_an_error_names_is_in_the_error_schema():
    unknown = {name: sorted(where) for name, where in raised_details().items() if name not in ERROR_FIELDS}
    assert not unknown, f"add these to gateway.openapi.ErrorSchema: {unknown}"


def test_the_error_schema_allows_nothing_else():
    from gateway.service import GatewayService
    from gateway.openapi import document

    error = document(GatewayService)["components"]["schemas"]["Error"]
    assert error["additionalProperties"] is False
    assert set(error["properties"]) == ERROR_FIELDS
    assert set(error["required"]) == {"error", "message"}
