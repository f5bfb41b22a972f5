"""The docs page in a real browser: headless Debian Chromium against a live server, offline.

Marked `browser`: deselected on machines without chromium and chromedriver, always run by CI
(.ci/run installs both and sets BROWSER_TESTS=1, so a missing browser fails there).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

WAIT_SECONDS = 30
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over HTTP on a free loopback port; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Debian's chromium through its chromedriver, with a fresh profile and no network chatter."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    chromedriver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    assert chromium, "chromium is not installed (apt-get install chromium)"
    assert chromedriver, "chromedriver is not installed (apt-get install chromium-driver)"
    options = Options()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Both paths are given, so selenium never runs its driver manager (no download).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


def wait(driver: WebDriver) -> WebDriverWait:
    """A bounded wait for something the page renders."""
    return WebDriverWait(driver, WAIT_SECONDS)


def rendered_operations(driver: WebDriver) -> dict[tuple[str, str], WebElement]:
    """(METHOD, path) -> the operation's block, as Swagger UI rendered them."""
    operations = {}
    for block in driver.find_elements(By.CSS_SELECTOR, ".opblock"):
        method = block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text
        path = block.find_element(By.CSS_SELECTOR, ".opblock-summary-path")
        operations[(method, path.get_attribute("data-path"))] = block
    return operations


def test_docs_page_renders_every_operation_offline(live_server, browser, client):
    spec = client.get("/api/openapi.json").get_json()
    expected = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }

    browser.get(f"{live_server}/api/docs")
    wait(browser).until(lambda d: len(rendered_operations(d)) == len(expected))

    assert set(rendered_operations(browser)) == expected
    assert "Conduit API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # no spec errors shown
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert loaded
    assert all(url.startswith(live_server) for url in loaded), loaded  # nothing from a CDN
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]
    assert errors == []


def test_try_it_out_registers_a_user(live_server, browser, client):
    browser.get(f"{live_server}/api/docs")
    wait(browser).until(lambda d: ("POST", "/api/users") in rendered_operations(d))
    block = rendered_operations(browser)[("POST", "/api/users")]

    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait(browser).until(lambda _: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    body = wait(browser).until(
        lambda _: block.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    )
    payload = {
        "user": {"username": "swagger", "email": "swagger@example.com", "password": "p4ssw0rd!"}
    }
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys(json.dumps(payload))
    block.find_element(By.CSS_SELECTOR, "button.execute").click()

    status = wait(browser).until(
        lambda _: block.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
        )
    )
    assert status.text.strip() == "201"
    shown = block.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_description"
    )
    assert '"username": "swagger"' in shown.get_attribute("textContent")
    # The account really exists: it can log in.
    login = {"user": {"email": "swagger@example.com", "password": "p4ssw0rd!"}}
    assert client.post("/api/users/login", json=login).status_code == 200


FRAME_LOADS = """
const [path, done] = arguments;
const frame = document.createElement('iframe');
frame.onload = () => {
  try { done(frame.contentDocument.body.innerText.length > 0); } catch (e) { done(false); }
};
frame.src = path;
document.body.appendChild(frame);
setTimeout(() => done(false), 5000);
"""


def test_docs_page_policy_stops_injected_scripts(live_server, browser):
    """The browser enforces the page's Content-Security-Policy: an inline script slipped into the
    page (as an XSS would) does not run."""
    browser.get(f"{live_server}/api/docs")
    wait(browser).until(lambda d: rendered_operations(d))
    ran = browser.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.injected = true';"
        "document.body.appendChild(s);"
        "return window.injected === true;"
    )
    assert ran is False
    violations = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert any("Content Security Policy" in message for message in violations), violations


def test_docs_page_cannot_be_framed(live_server, browser):
    """A page of the same origin without a policy of its own can frame other documents, but not
    the docs page (X-Frame-Options: DENY, frame-ancestors 'none')."""
    browser.get(f"{live_server}/api/openapi.json")
    assert browser.execute_async_script(FRAME_LOADS, "/api/tags") is True
    assert browser.execute_async_script(FRAME_LOADS, "/api/docs") is False
    violations = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert any("frame-ancestors 'none'" in message for message in violations), violations
