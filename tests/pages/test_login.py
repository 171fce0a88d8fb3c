"""The sign-in page over real HTTP: errors, lockout, CSRF, the session cookie, sign-out, headers."""

from __future__ import annotations

import time

import httpx

from fhir_server.auth import passwords

from .conftest import LOCK_SECONDS, MAX_FAILURES, PASSWORD, AuthData, csrf_of, older_hash, sign_in

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def assert_secure(response: httpx.Response) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, (header, response.headers)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy


def test_unknown_malformed_and_expired_requests_get_an_error_page(browser: httpx.Client, auth_data: AuthData) -> None:
    expired = auth_data.park(auth_data.client(), "openid", expires_in=-1)
    for params in ({"request": "nope"}, {"request": "../../etc"}, {"request": ""}, {"request": expired}):
        response = browser.get("/auth/login", params=params)
        assert response.status_code == 400
        assert "unknown or has expired" in response.text
        assert_secure(response)
    posted = browser.post("/auth/login", data={"request": "nope", "username": "x", "password": "y"})
    assert posted.status_code == 403
    no_request = browser.get("/auth/login")  # signing in for the staff launch page
    assert no_request.status_code == 200 and 'name="username"' in no_request.text
    assert_secure(no_request)


def test_login_page_is_a_plain_form_with_security_headers(browser: httpx.Client, auth_data: AuthData) -> None:
    request_id = auth_data.park(auth_data.client(), "openid")
    response = browser.get("/auth/login", params={"request": request_id}, headers={"Accept-Language": "de"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in response.text
    assert "<script" not in response.text
    for name in ("username", "password", "csrf_token", "request"):
        assert f'name="{name}"' in response.text
    assert_secure(response)
    assert "form-action 'self'" in response.headers["content-security-policy"]
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/auth" in cookie and "secure" not in cookie
    css = browser.get("/auth/static/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_wrong_password_and_unknown_user_get_the_same_answer(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("nurse")
    request_id = auth_data.park(auth_data.client(), "openid")
    wrong = sign_in(browser, request_id, username, "not the password")
    unknown = sign_in(browser, request_id, f"ghost-{username}", "not the password")
    inactive = sign_in(browser, request_id, auth_data.user("nurse", active=False))
    for response in (wrong, unknown, inactive):
        assert response.status_code == 400
        assert "Wrong username or password." in response.text
        assert_secure(response)


def test_lockout_after_failures_and_release_after_the_lock_time(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician")
    request_id = auth_data.park(auth_data.client(), "openid", expires_in=60)
    answers = [sign_in(browser, request_id, username, "wrong").status_code for _ in range(MAX_FAILURES)]
    assert answers == [400] * (MAX_FAILURES - 1) + [429]
    locked = sign_in(browser, request_id, username)
    assert locked.status_code == 429 and "Too many attempts" in locked.text
    assert locked.headers["retry-after"] == str(LOCK_SECONDS)
    ghost = [sign_in(browser, request_id, f"ghost-{username}", "x").status_code for _ in range(MAX_FAILURES + 1)]
    assert ghost[-2:] == [429, 429], "an unknown username locks the same way: locks reveal nothing"
    time.sleep(LOCK_SECONDS + 0.2)
    released = sign_in(browser, request_id, username)
    assert released.status_code == 303, released.text


def test_csrf_missing_or_wrong_is_refused(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("nurse")
    request_id = auth_data.park(auth_data.client(), "openid")
    form = browser.get("/auth/login", params={"request": request_id})
    data = {"request": request_id, "username": username, "password": PASSWORD}
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        response = browser.post("/auth/login", data={**data, **token})
        assert response.status_code == 403
        assert_secure(response)
    assert "set-cookie" not in response.headers
    with httpx.Client(base_url=str(browser.base_url), follow_redirects=False) as other:
        stolen = other.post("/auth/login", data={**data, "csrf_token": csrf_of(form)})
        assert stolen.status_code == 403, "a token is only good with the session it belongs to"


def test_sign_in_starts_a_new_session_which_skips_the_form_until_sign_out(
    browser: httpx.Client, auth_data: AuthData
) -> None:
    username = auth_data.user("physician")
    client_id = auth_data.client()
    request_id = auth_data.park(client_id, "openid")
    signed_in = sign_in(browser, request_id, username)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == f"/auth/consent?request={request_id}"
    assert_secure(signed_in)
    anonymous = signed_in.request.headers["cookie"]
    assert browser.cookies["fhir_session"] not in anonymous, "a new session id after sign-in"
    again = auth_data.park(client_id, "openid launch/patient")
    straight_on = browser.get("/auth/login", params={"request": again})
    assert straight_on.status_code == 303
    assert straight_on.headers["location"] == f"/auth/consent?request={again}"
    assert browser.get(straight_on.headers["location"]).headers["location"] == f"/auth/patient?request={again}"
    confirm = browser.get("/auth/logout")
    assert confirm.status_code == 200 and 'action="/auth/logout"' in confirm.text
    assert browser.post("/auth/logout", data={"csrf_token": "forged"}).status_code == 403
    out = browser.post("/auth/logout", data={"csrf_token": csrf_of(confirm)})
    assert out.status_code == 200 and "signed out" in out.text
    assert_secure(out)
    assert browser.get("/auth/login", params={"request": again}).status_code == 200
    assert browser.get("/auth/logout").status_code == 200


def test_crafted_next_parameters_never_leave_the_server(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician")
    request_id = auth_data.park(auth_data.client(), "openid")
    crafted = {"next": "https://evil.example/", "redirect_uri": "https://evil.example/", "return_to": "//evil.example"}
    form = browser.get("/auth/login", params={"request": request_id, **crafted})
    data = {"request": request_id, "username": username, "password": PASSWORD, "csrf_token": csrf_of(form)}
    response = browser.post("/auth/login", params=crafted, data={**data, **crafted})
    assert response.status_code == 303
    assert response.headers["location"] == f"/auth/consent?request={request_id}"
    landing = browser.get("/auth/consent", params={"request": request_id, **crafted})
    assert "evil.example" not in landing.text


def test_cookie_is_secure_behind_https(browser: httpx.Client, auth_data: AuthData) -> None:
    request_id = auth_data.park(auth_data.client(), "openid")
    response = browser.get("/auth/login", params={"request": request_id}, headers={"X-Forwarded-Proto": "https"})
    assert "secure" in response.headers["set-cookie"].lower()


def test_a_hash_with_older_parameters_is_replaced_at_sign_in(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician", password_hash=older_hash(PASSWORD))
    assert sign_in(browser, auth_data.park(auth_data.client(), "openid"), username).status_code == 303
    user = auth_data.stored_user(username)
    assert user is not None and not passwords.needs_rehash(user.password_hash)
    assert passwords.verify_password(PASSWORD, user.password_hash)


def test_a_user_whose_role_was_removed_cannot_consent(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("retired-role")
    request_id = auth_data.park(auth_data.client(), "openid")
    assert sign_in(browser, request_id, username).status_code == 303
    refused = browser.get("/auth/consent", params={"request": request_id})
    assert refused.status_code == 403 and "role no longer exists" in refused.text


def test_the_sign_in_page_names_the_app_and_allows_images_from_its_logo_origin_only(
    browser: httpx.Client, auth_data: AuthData
) -> None:
    logo = "https://logos.example/growth.png"
    with_logo = browser.get(
        "/auth/login", params={"request": auth_data.park(auth_data.client(logo_uri=logo), "openid")}
    )
    assert with_logo.status_code == 200
    assert "Sign in to continue to Growth Chart." in with_logo.text and f'src="{logo}"' in with_logo.text
    assert "img-src 'self' https://logos.example;" in with_logo.headers["content-security-policy"]
    assert_secure(with_logo)
    plain = httpx.get(
        f"{browser.base_url}/auth/login", params={"request": auth_data.park(auth_data.client(), "openid")}
    )
    assert "Sign in to continue to Growth Chart." in plain.text and "<img" not in plain.text
    assert "img-src 'self';" in plain.headers["content-security-policy"]
    staff = httpx.get(f"{browser.base_url}/auth/login")
    assert staff.status_code == 200 and "continue to" not in staff.text, "no app asks on the staff sign-in"
