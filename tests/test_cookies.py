"""Cookies on both clients: set by the target, sent back, deleted, set on a redirect; the quiet jars."""

from __future__ import annotations

import http.cookiejar

import pytest
from requests.cookies import RequestsCookieJar

from engine.cookies import LOCK, POLICY, CookieJar, SessionCookieJar

JOURNEY = """
version: 1
defaults: {{client: {client}}}
journeys:
  j:
    steps:
      - get: /echo
        name: Before
        expect: {{json: {{"$.cookies": {{length: 0}}}}}}
      - get: /cookies/set?flavour=oat&size=big
        name: Set
      - get: /echo
        name: Sent
        expect: {{json: {{"$.cookies.flavour": oat, "$.cookies.size": big}}}}
      - get: /cookies/delete?size
        name: Delete
      - get: /echo
        name: After delete
        expect: {{json: {{"$.cookies.flavour": oat, "$.cookies.size": {{exists: false}}}}}}
      - get: /cookies/set?via=redirect&then=/echo
        name: Redirect
        expect: {{json: {{"$.cookies.via": redirect, "$.cookies.flavour": oat}}}}
        save: {{flavour: {{cookie: flavour}}}}
      - get: /echo?flavour={{{{ flavour }}}}
        name: Saved
        expect: {{json: {{"$.args.flavour[0]": oat}}}}
"""
NAMES = ("Before", "Set", "Sent", "Delete", "After delete", "Redirect", "Saved")


@pytest.mark.parametrize("client", ["http", "fast"])
def test_cookies_are_kept_sent_deleted_and_set_on_redirects(harness, client) -> None:
    h = harness(JOURNEY.format(client=client))
    user = h.user()
    jar = user.client.cookies if client == "http" else user.client.cookiejar
    assert isinstance(jar, SessionCookieJar if client == "http" else CookieJar)
    if client == "fast":
        assert user.client.client.cookiejar is jar  # the agent asks the same jar
    h.journey(user)
    assert [h.requests(name) for name in NAMES] == [1] * len(NAMES)
    assert h.errors() == []
    assert sorted(cookie.name for cookie in jar) == ["flavour", "via"]


@pytest.mark.parametrize("client", ["http", "fast"])
def test_each_user_has_a_jar_of_its_own(harness, client) -> None:
    h = harness(JOURNEY.format(client=client))
    first, second = h.user(), h.user()
    h.journey(first)
    jar = second.client.cookies if client == "http" else second.client.cookiejar
    assert list(jar) == []
    h.journey(second)  # starts with no cookies: "Before" expects none
    assert h.errors() == []
    assert jar._policy is POLICY and jar._cookies_lock is LOCK  # one policy and lock for all (neither holds a cookie)
    assert (first.client.cookies if client == "http" else first.client.cookiejar) is not jar


class _Response:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def info(self) -> dict[str, str]:
        return self.headers


class _Raises(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        raise AssertionError("the jar looked at a response without Set-Cookie")


def test_the_quiet_jars_skip_only_calls_that_cannot_change_anything() -> None:
    for jar in (CookieJar(_Raises()), SessionCookieJar(_Raises())):
        jar.extract_cookies(_Response({"content-type": "application/json"}), object())  # not looked at
        jar.add_cookie_header(object())  # empty: nothing to add, nothing looked at
    assert issubclass(SessionCookieJar, RequestsCookieJar)
