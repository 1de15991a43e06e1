"""Schemathesis against our own OpenAPI description: no 5xx, and answers that conform to it.

Bounded (a few examples per operation, as producer and as trader) so that it stays quick in
`make test`; SCHEMATHESIS_EXAMPLES=200 gives a deeper look. Operations are driven through
schemathesis' Python API (its pytest plugin does not support pytest 9 yet).
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]


@pytest.mark.slow
def test_api_never_fails_and_keeps_its_word(app, make_user, make_farm, make_lot, token_for):
    producer = make_user("producer")
    make_lot(make_farm(producer))
    headers = [token_for(producer), token_for(make_user("trader"))]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case):
            for auth in headers:
                case.call_and_validate(headers=auth, checks=CHECKS)

        exercise()
