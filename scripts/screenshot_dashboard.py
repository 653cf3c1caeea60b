#!/usr/bin/env python
"""A screenshot of the compliance dashboard of the demo organization, taken from the running app.

    .venv/bin/python scripts/screenshot_dashboard.py [--user officer] [--output docs/screenshots/dashboard.png]

Seeds the demo (``manage.py seed_demo``) into a scratch SQLite database in a temporary directory
(never the developer's or a production database), runs the app with ``runserver`` on a free port of
the loopback interface, signs in through the real sign-in page with Playwright and Chromium, and
saves a full-page PNG of the dashboard. Needs ``npm ci`` (Bootstrap) and Chromium.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = BASE_DIR / "docs" / "screenshots" / "dashboard.png"
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "tracker-demo-2026")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"The app did not answer on {url} within {timeout:.0f} s.")
        time.sleep(0.3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="officer", help="Demo user to sign in as (default officer).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Where to save the PNG.")
    parser.add_argument("--width", type=int, default=1360, help="Viewport width in CSS pixels (default 1360).")
    args = parser.parse_args(argv)
    if not (BASE_DIR / "node_modules" / "bootstrap" / "dist").exists():
        parser.error("node_modules/bootstrap is missing: run `npm ci` first")

    with tempfile.TemporaryDirectory(prefix="dashboard-screenshot-") as scratch:
        scratch_dir = Path(scratch)
        env = {
            **os.environ,
            "BAATRACKER_VAR_DIR": str(scratch_dir),
            "DATABASE_URL": f"sqlite:///{scratch_dir / 'demo.sqlite3'}",
            "MEDIA_ROOT": str(scratch_dir / "media"),
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "CELERY_BROKER_URL": "memory://",
            "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "baatracker.settings",
        }
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=BASE_DIR)
        subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=BASE_DIR, stdout=subprocess.DEVNULL)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"{base}/healthz")
            shoot(base, args.user, args.output, args.width)
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(args.output)
    return 0


def shoot(base: str, username: str, output: Path, width: int) -> None:
    from playwright.sync_api import sync_playwright

    output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
            page.goto(f"{base}/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/")
            page.get_by_role("heading", name="Compliance dashboard").wait_for()
            page.screenshot(path=str(output), full_page=True)
        finally:
            browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
