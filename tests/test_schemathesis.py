"""Property-based API testing: schemathesis generates requests for every documented operation
from the OpenAPI document; no answer may be a server error or stray from the documented schemas."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

# Bounded so the whole run stays within a few minutes.
MAX_EXAMPLES = 50

CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # The contract answers conflicts (a taken email or username) with 422, not 409, so a
            # schema-valid request may fairly get 422.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "422"],
            },
        },
    }
)


def strategies(operation: Any, real: dict[str, Any]) -> list[tuple[str, Any]]:
    """Valid requests, invalid bodies, and valid requests aimed at
    records that exist (random slugs and names would only ever meet 404)."""
    raw = operation.definition.raw
    parameters = [
        *raw.get("parameters", []),
        *operation.schema.raw_schema["paths"][operation.path].get("parameters", []),
    ]
    found = [("positive", operation.as_strategy(GenerationMode.POSITIVE))]
    # Invalid bodies only: negative query generation adds unknown parameters, which the API (like
    # most) ignores by design, and invalid limit/offset values are covered in test_articles.py.
    if "requestBody" in raw:
        found.append(("negative", operation.as_strategy(GenerationMode.NEGATIVE)))
    names = {p["name"] for p in parameters if p["in"] == "path"}
    if names:
        path_parameters = {name: real[name] for name in names}
        strategy = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path_parameters)
        found.append(("existing records", strategy))
    return found


def test_every_operation_with_generated_requests(app, client, make_user, make_article):
    # schemathesis' pytest loader (from_fixture) does not run on pytest 9, so the operations are
    # walked here: every one is exercised, and a failure names its operation and mode.
    author = make_user("prop")
    make_user("other")
    article = make_article(author, "Property based", tagList=["hypothesis"])
    comment = client.post(
        f"/api/articles/{article['slug']}/comments",
        json={"comment": {"body": "First"}},
        headers=author["headers"],
    ).get_json()["comment"]
    real = {"slug": article["slug"], "username": "other", "comment_id": comment["id"]}

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = schema.raw_schema["paths"]
    assert len(operations) == sum(len(set(item) - {"parameters"}) for item in documented.values())

    for operation in operations:
        for mode, strategy in strategies(operation, real):

            @given(case=strategy)
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=author["headers"])

            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:
                exc.add_note(f"operation: {operation.label} ({mode})")
                raise
