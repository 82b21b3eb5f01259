"""The HTML report in a real headless browser: Debian's Chromium and chromium-driver, driven by selenium.

The page is opened from disk (``file://``, no server): it must load with no console error (no SEVERE
browser log entry), every image must decode, and the visible text must show every tracker's name and
its success AUC as the page formats it. scripts/bootstrap.sh installs ``chromium`` and
``chromium-driver`` as root where apt-get exists; the test skips, saying so, only where they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tiny_otb import DriftTracker, StayTracker, write_otb

from metatrack.cli import main
from metatrack.trackers import register_tracker

NASTY = "stay&<still>"  # a tracker (and results folder) name that must be escaped to show literally
register_tracker(NASTY, StayTracker, replace=True)
register_tracker("test-browser-drift", DriftTracker, replace=True)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _find("chromium", "chromium-browser", "google-chrome")
DRIVER = _find("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no chromium/chromedriver on PATH: install Debian's `chromium` and `chromium-driver` "
    "(scripts/bootstrap.sh does so as root with apt-get)",
)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def load(driver, page: Path) -> tuple[str, list[dict]]:
    """Open ``page`` from disk; return its visible text and the SEVERE console entries of the load."""
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop what came before
    driver.get(page.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    text = driver.find_element(By.TAG_NAME, "body").text
    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return text, severe


def test_console_errors_are_caught(browser, tmp_path):
    """The check is not vacuous: a page with a missing image and a script error has SEVERE entries."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png"><script>undefinedCall()</script></body></html>')
    _, severe = load(browser, bad)
    assert len(severe) >= 2


def test_report_loads_without_console_errors_and_shows_every_score(browser, tmp_path):
    data = write_otb(tmp_path / "otb")
    ds = f"otb:{data}"
    results = tmp_path / "results"
    trackers = [NASTY, "test-browser-drift", "opencv-kcf"]
    assert main(["run", "--tracker", ",".join(trackers), "--dataset", ds, "--results", str(results)]) == 0
    scores_json = tmp_path / "scores.json"
    assert main(["score", "--dataset", ds, "--results", str(results), "--json", str(scores_json)]) == 0
    out = tmp_path / "report"
    assert main(["report", "--dataset", ds, "--results", str(results), "--out", str(out), "--format", "html",
                 "--title", "Browser <check>"]) == 0

    text, severe = load(browser, out / "report.html")
    assert severe == [], f"console errors: {severe}"
    assert browser.title == "Browser <check>"
    import json

    scores = json.loads(scores_json.read_text())
    assert set(scores) == set(trackers)
    for name, s in scores.items():
        assert name in text  # escaped in the file, shown literally
        assert f"{s['success_auc']:.3f}" in text and f"{s['precision']:.3f}" in text
        rows = browser.execute_script(
            "return Array.from(document.querySelectorAll('#overall tbody tr'))"
            ".filter(r => r.dataset.tracker === arguments[0]).map(r => r.innerText)", name)
        assert len(rows) == 1 and f"{s['success_auc']:.3f}" in rows[0]
        for seq, block in s["sequences"].items():
            assert seq in text and f"{block['success_auc']:.3f}" in text
    # every image (plots and thumbnails) decoded; one thumbnail per sequence
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 15)])")
    assert len(images) >= 3 + 3 and all(ok and width > 0 for ok, width, _ in images)
    assert sum(src.startswith("data:image/jpeg") for _, _, src in images) == 3
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0


def test_dump_dom_from_the_command_line(tmp_path):
    """The same page through chromium's own --dump-dom, as a user without selenium would check it."""
    data = write_otb(tmp_path / "otb")
    ds = f"otb:{data}"
    assert main(["run", "--tracker", "test-browser-drift", "--dataset", ds, "--results", str(tmp_path / "r")]) == 0
    assert main(["report", "--dataset", ds, "--results", str(tmp_path / "r"), "--out", str(tmp_path / "rep"),
                 "--format", "html"]) == 0
    page = (tmp_path / "rep" / "report.html").resolve()
    dom = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert 'data-tracker="test-browser-drift"' in dom and 'id="sequences"' in dom
