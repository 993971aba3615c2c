"""The README's picture of the web app: app.py started on a free port, a photo stylized in it
through headless chromium (selenium, as tests/test_app.py drives it), the page photographed.

    python -m examples.make_screenshot   # writes examples/app.png
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(photo=HERE / "content/chelsea.jpg", style="udnie", out=HERE / "app.png"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        while f"127.0.0.1:{port}" not in server.stderr.readline():
            if server.poll() is not None:
                raise SystemExit("app.py did not start")
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,900"):
            options.add_argument(argument)
        options.binary_location = "/usr/bin/chromium"
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        driver.get(f"http://127.0.0.1:{port}/")
        _until(lambda: driver.find_element(By.CSS_SELECTOR, "#photos input[type=file]")).send_keys(str(photo))
        driver.find_element(By.CSS_SELECTOR, "#style input[role=combobox]").click()
        _until(lambda: [li for li in driver.find_elements(By.CSS_SELECTOR, "ul[role=listbox] li") if li.text.strip() == style])[0].click()
        driver.find_element(By.ID, "go").click()
        _until(lambda: "Stylized" in driver.find_element(By.ID, "status").text)
        time.sleep(2)  # the gallery's pictures load
        driver.save_screenshot(str(out))
        driver.quit()
        print(f"wrote {out}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()


def _until(check, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if value := check():
                return value
        except Exception:  # noqa: BLE001 - the page is still rendering
            pass
        time.sleep(0.25)
    raise SystemExit("the page did not get there in time")


if __name__ == "__main__":
    main()
