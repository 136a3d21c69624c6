"""The workbench in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by selenium) against a real `drgate serve` on a free port, with the machine's Redis (own
prefix) and a SQLite store.  Keys are made with `drgate api-key add` and published by `drgate sync`.

With ``DRGATE_UI_SCREENSHOTS=DIR`` the screenshot test writes the main pages there at 1366x768
(``DRGATE_UI_SCREENSHOTS=docs`` refreshes the README's and docs/workbench.md's pictures).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from cache.keys import Keys
from tests.conftest import drop_prefix
from tests.fault_servers import Gateway
from tests.rows import PHYSICIAN, SITE_A, appeal, notice, violation, workbench_rows

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "apt-get install chromium chromium-driver"

pytestmark = pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
                                reason=f"no headless Chromium here: {INSTALL} (Debian) to run the browser tests")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install -e '.[dev]'")
from selenium.common.exceptions import NoAlertPresentException, WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

MARKUP = '<script>alert("x")</script><b>医师</b>'
MARKED = "D330802009999"


def drgate(env: dict[str, str], *argv: str) -> str:
    """`drgate ARGV` in its own process; its standard output."""
    done = subprocess.run([sys.executable, "-c", "from gateway.cli.main import main; raise SystemExit(main())",
                           *argv], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Served:
    """A gateway with the workbench's data published, and a key per role."""

    def __init__(self, gateway: Gateway, keys: dict[str, str], env: dict[str, str]) -> None:
        self.gateway, self.keys, self.env = gateway, keys, env
        self.url = gateway.url


@pytest.fixture(scope="module", name="served")
def fix_served(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("workbench")
    prefix = f"drgate-test-{uuid.uuid4().hex[:12]}"
    env = {"DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": prefix, "DRGATE_STORE_URL":
           f"sqlite:///{folder / 'store.db'}", "DRGATE_POLL_INTERVAL": "0.1", "DRGATE_VAR_DIR": str(folder / "var"),
           "DRGATE_LOG_FORMAT": "json"}
    rows = [*workbench_rows(), {"kind": "physician", "code": MARKED, "name": MARKUP},
            violation("V-2026-001", "18.1", "2026-03-02"), violation("V-2026-002", "19.1", "2026-04-01"),
            notice(f"violation:V-2026-001@{PHYSICIAN}", "2026-03-05"), appeal("A-2026-001", "V-2026-002", "2026-04-03")]
    data = folder / "data.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    drgate(env, "store", "init")
    drgate(env, "store", "import", str(data))
    keys = {role: orjson.loads(drgate(env, "api-key", "add", "--name", f"{role}-1", "--role", role, "--json"))["key"]
            for role in ("settlement", "helpdesk", "officer", "admin")}
    drgate(env, "sync", "--full")
    gateway = Gateway(env)
    client = redis.Redis.from_url(redis_url)
    try:
        yield Served(gateway, keys, env)
    finally:
        log = gateway.output()
        gateway.stop()
        drop_prefix(client, Keys(prefix))
        client.close()
        assert not any(key in log for key in keys.values()), "a key was written to the gateway's log"


@pytest.fixture(scope="module", name="browser")
def fix_browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=zh-CN",
                "--window-size=1366,768"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # The page itself at 1366x768, whatever the headless window's frame takes.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})
    driver.implicitly_wait(2)  # an element looked for on a page still loading
    try:
        yield driver
    finally:
        driver.quit()


def log_in(browser: Any, served: Served, role: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{served.url}/ui/login")
    browser.find_element(By.ID, "key").send_keys(served.keys[role])
    click_through(browser, browser.find_element(By.ID, "login"))


def click_through(browser: Any, element: Any) -> None:
    """Click what leads to another page, and wait until that page is the one shown."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    # While the old page is torn down, chromedriver can answer a look at it with an "unhandled
    # inspector error" rather than "stale element": that is the navigation under way, so look again.
    WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(old))


def text_of(browser: Any, element_id: str) -> str:
    return str(browser.find_element(By.ID, element_id).text)


def line_reason(browser: Any, served: Served, on: str) -> str:
    browser.get(f"{served.url}/ui/physicians/{PHYSICIAN}?on={on}&institution={SITE_A}")
    return text_of(browser, "line-reason")


def test_an_officer_records_a_violation_an_admin_publishes_and_the_lines_decision_changes(
        browser: Any, served: Served) -> None:
    log_in(browser, served, "officer")
    assert "officer-1" in text_of(browser, "who")
    browser.find_element(By.ID, "q").send_keys("测试医师")
    click_through(browser, browser.find_element(By.ID, "search"))
    click_through(browser, browser.find_element(By.LINK_TEXT, PHYSICIAN))
    assert text_of(browser, "points") == "8"
    assert line_reason(browser, served, "2026-05-20") == "ok"
    click_through(browser, browser.find_element(By.LINK_TEXT, "违规"))
    form = {"id": "V-2026-003", "institution_code": SITE_A, "case_id": "CASE-3", "basis_no": "衢医保稽〔2026〕3号"}
    for name, value in form.items():
        browser.find_element(By.ID, f"f-{name}").send_keys(value)
    Select(browser.find_element(By.ID, "f-item")).select_by_value("20.1")  # +1: 9 points, suspended a month
    Select(browser.find_element(By.ID, "f-basis_type")).select_by_value("audit")
    for name in ("occurred_on", "scored_on"):  # a date input takes the digits in the locale's order
        browser.execute_script("arguments[0].value = '2026-05-06'", browser.find_element(By.ID, f"f-{name}"))
    click_through(browser, browser.find_element(By.ID, "save"))
    assert "已记录" in text_of(browser, "recorded")
    assert text_of(browser, "points") == "9"
    history = text_of(browser, "history")
    assert "V-2026-003" in history and "key:officer-1" in history and "新建" in history
    assert browser.find_elements(By.ID, "publish") == []  # an officer records; publishing is the admin's
    assert line_reason(browser, served, "2026-05-20") == "ok"  # recorded, not yet published

    log_in(browser, served, "admin")
    browser.get(f"{served.url}/ui/record/violation")
    click_through(browser, browser.find_element(By.ID, "publish"))
    assert "已发布" in text_of(browser, "published")
    deadline = time.monotonic() + 10
    while (reason := line_reason(browser, served, "2026-05-20")) != "suspended" and time.monotonic() < deadline:
        time.sleep(0.2)  # the gateway follows the publication within its poll interval
    assert reason == "suspended"
    assert "拒付" in text_of(browser, "line-decision")


def test_a_bad_record_shows_the_imports_message_beside_its_field(browser: Any, served: Served) -> None:
    log_in(browser, served, "officer")
    browser.get(f"{served.url}/ui/record/restoration_request?physician_code=D000000000404")
    browser.execute_script("arguments[0].value = '2026-06-01'", browser.find_element(By.ID, "f-filed_on"))
    click_through(browser, browser.find_element(By.ID, "save"))
    problem = browser.find_element(By.CSS_SELECTOR, '[data-field="physician_code"]')
    assert problem.text == "D000000000404 is not a known physician"


@pytest.mark.parametrize(("role", "writes"), [("helpdesk", False), ("officer", True), ("admin", True)])
def test_each_role_sees_only_what_it_may(browser: Any, served: Served, role: str, writes: bool) -> None:
    log_in(browser, served, role)
    browser.get(f"{served.url}/ui/physicians/{PHYSICIAN}")
    assert bool(browser.find_elements(By.LINK_TEXT, "违规")) is writes
    browser.get(f"{served.url}/ui/due")
    assert browser.find_elements(By.ID, "due")
    browser.get(f"{served.url}/ui/record/violation")
    if writes:
        assert browser.find_elements(By.ID, "save")
        assert bool(browser.find_elements(By.ID, "publish")) is (role == "admin")
    else:
        assert "不能进行此操作" in text_of(browser, "message")


def test_a_settlement_key_opens_nothing_of_the_workbench(browser: Any, served: Served) -> None:
    log_in(browser, served, "settlement")
    assert "不能使用工作台" in text_of(browser, "message")
    browser.get(f"{served.url}/ui/due")
    assert browser.current_url == f"{served.url}/ui/login"


def test_a_name_holding_markup_is_shown_as_text_and_never_runs(browser: Any, served: Served) -> None:
    log_in(browser, served, "helpdesk")
    browser.get(f"{served.url}/ui/?q={MARKED}")
    click_through(browser, browser.find_element(By.LINK_TEXT, MARKED))
    assert text_of(browser, "name") == MARKUP
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.accept()
    assert browser.find_elements(By.CSS_SELECTOR, "#name b") == []


def test_the_session_cookie_is_httponly_and_strict_and_the_key_is_in_no_url(browser: Any, served: Served) -> None:
    log_in(browser, served, "helpdesk")
    WebDriverWait(browser, 5).until(expected_conditions.url_to_be(f"{served.url}/ui/"))
    cookie = browser.get_cookie("drgate_ui")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui/"
    assert browser.execute_script("return document.cookie").find("drgate_ui=") == -1
    assert served.keys["helpdesk"] not in browser.current_url
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "form.who button"))
    assert browser.current_url == f"{served.url}/ui/login"
    browser.get(f"{served.url}/ui/")
    assert browser.current_url == f"{served.url}/ui/login"


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_screenshots_of_the_main_pages_at_1366x768(browser: Any, served: Served, tmp_path: Path) -> None:
    folder = Path(os.environ.get("DRGATE_UI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.delete_all_cookies()
    browser.get(f"{served.url}/ui/login")
    pages = {"login": None, "physician": f"/ui/physicians/{PHYSICIAN}?on=2026-05-20&institution={SITE_A}",
             "due": "/ui/due?year=2026", "record": f"/ui/record/violation?physician_code={PHYSICIAN}"}
    for name, path in pages.items():
        if path is not None:
            if name == "physician":
                log_in(browser, served, "admin")
            browser.get(f"{served.url}{path}")
        target = folder / f"ui-{name}.png"
        browser.save_screenshot(str(target))
        assert _png_size(target) == (1366, 768)
