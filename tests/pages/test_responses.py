"""Redirect guards of the pages: local paths only, and the CSP source of an app's redirect target."""

from __future__ import annotations

import pytest

from fhir_server.pages.responses import form_target, redirect_here


@pytest.mark.parametrize(
    "path", ["https://evil.example/auth/x", "//evil.example/auth/x", "/\\evil.example", "/fhir/Patient", "auth/x"]
)
def test_redirects_stay_on_the_server(path: str) -> None:
    with pytest.raises(ValueError, match="not a local page"):
        redirect_here(path)


def test_a_local_page_is_a_303_with_security_headers() -> None:
    response = redirect_here("/auth/consent?request=abc")
    assert response.status_code == 303 and response.headers["location"] == "/auth/consent?request=abc"
    assert response.headers["x-frame-options"] == "DENY"


def test_form_targets_name_the_origin_or_the_scheme() -> None:
    assert form_target("https://app.example:8443/cb?x=1") == "https://app.example:8443"
    assert form_target("com.example.app:/oauth2redirect") == "com.example.app:"
