"""The app factory's promises: health, security headers, errors, CSRF, languages."""

from __future__ import annotations

from tests.helpers import csrf_token


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["migrations"] == "head"


def test_security_headers_on_every_response(client):
    for path in ("/", "/healthz", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # http://localhost in tests


def test_home_is_russian_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Войти по ключу" in html


def test_language_switch_needs_csrf_and_sticks(client):
    assert client.post("/lang", data={"lang": "en"}).status_code == 400
    token = csrf_token(client)
    response = client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Sign in with a key" in html


def test_language_switch_refuses_open_redirect(client):
    token = csrf_token(client)
    response = client.post(
        "/lang", data={"lang": "ru", "next": "//evil.example/", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_404_page_in_site_style(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Такой страницы нет." in html
    assert 'class="topbar"' in html


def test_json_errors_for_json_routes(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not_found", "message": "Такой страницы нет."}


def test_json_post_without_csrf_is_refused_with_json(client):
    response = client.post("/lang", json={"lang": "en"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf_failed"


def test_unexpected_error_is_a_styled_500(app, client, caplog):
    def broken():
        raise RuntimeError("boom")

    original = app.view_functions["portal.healthz"]
    app.view_functions["portal.healthz"] = broken
    try:
        response = client.get("/healthz")
    finally:
        app.view_functions["portal.healthz"] = original
    assert response.status_code == 500
    assert "У нас что-то пошло не так" in response.get_data(as_text=True)


def test_request_log_line_names_the_route_not_the_path(client, caplog):
    caplog.set_level("INFO", logger="portal.request")
    client.get("/no-such-page?token=secret-value")
    line = caplog.records[-1].getMessage()
    assert "route=<unmatched>" in line
    assert "secret-value" not in line
    assert "status=404" in line
    assert "request_id=" in line
