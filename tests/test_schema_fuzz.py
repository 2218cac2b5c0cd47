"""Schemathesis against /openapi.json: generated requests for every operation, bounded in number; any 5xx, or a
response that does not match the declared schema, status codes and content type, fails."""

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings


@pytest.fixture(scope="module")
def api_schema(settings, engine):
    from api.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, engine))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.timeout(300)
def test_api_answers_within_its_schema(case):
    case.call_and_validate()
