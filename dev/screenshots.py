"""Take the Apps page screenshots (static/description/*.png) from a running demo
database: ``make run`` in another shell, then
``.venv/bin/python dev/screenshots.py [http://localhost:8069] [stripe_demo]``.

Drives headless Chromium through the DevTools protocol (websocket-client, the
package Odoo's own tours use), logged in as admin/admin.
"""

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import websocket
from PIL import Image

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8069"
DB = sys.argv[2] if len(sys.argv) > 2 else "stripe_demo"
OUT = os.path.join(os.path.dirname(__file__), "..", "static", "description")
WIDTH, HEIGHT = 1280, 800


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp()
        binary = shutil.which("chromium") or shutil.which("google-chrome")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-port=9333",
                "--remote-allow-origins=*",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _i in range(100):
            try:
                pages = requests.get("http://127.0.0.1:9333/json", timeout=2).json()
                page = next(p for p in pages if p["type"] == "page")
                break
            except (requests.RequestException, StopIteration):
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def js(self, expression):
        return (
            self.call("Runtime.evaluate", expression=expression, awaitPromise=True)
            .get("result", {})
            .get("value")
        )

    def wait_for(self, selector, timeout=240):
        for _i in range(timeout * 4):
            if self.js(f"!!document.querySelector({json.dumps(selector)})"):
                time.sleep(1.5)  # let images and fonts settle
                return
            time.sleep(0.25)
        self.shoot("timeout.png")
        raise TimeoutError(f"{selector} (see static/description/timeout.png)")

    def goto(self, path, selector):
        self.call("Page.navigate", url=BASE + path)
        self.wait_for(selector)

    def shoot(self, name):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        path = os.path.join(OUT, name)
        image.save(path, optimize=True)
        print(path, os.path.getsize(path), "bytes")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    session = requests.post(
        BASE + "/web/session/authenticate",
        json={"params": {"db": DB, "login": "admin", "password": "admin"}},
        timeout=60,
    )
    session.raise_for_status()
    browser = Browser()
    try:
        browser.call("Page.enable")
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.call(
            "Network.setCookie",
            name="session_id",
            value=session.cookies["session_id"],
            url=BASE,
        )
        browser.goto("/odoo/action-stripe_connector.stripe_event_action", ".o_data_row")
        browser.shoot("screenshot_events.png")
        browser.js(
            "[...document.querySelectorAll('.o_data_row')]"
            ".find(r => r.innerText.includes('Failed'))"
            ".querySelector('td[name=type]').click()"
        )
        browser.wait_for(".o_form_view .alert-danger")
        browser.shoot("screenshot_failed_event.png")
        browser.goto(
            "/odoo/action-stripe_connector.stripe_account_action", ".o_data_row"
        )
        browser.js("document.querySelector('.o_data_row td[name=name]').click()")
        browser.wait_for(".o_form_view div[name=webhook_url]")
        browser.shoot("screenshot_account.png")
        browser.goto(
            "/odoo/action-stripe_connector.stripe_payout_action", ".o_data_row"
        )
        browser.js("document.querySelector('.o_data_row td[name=stripe_id]').click()")
        browser.wait_for("button[name=action_open_reconcile_wizard]")
        browser.shoot("screenshot_payout.png")
        browser.js(
            "document.querySelector('button[name=action_open_reconcile_wizard]').click()"
        )
        browser.wait_for(".modal button[name=action_confirm]")
        browser.shoot("screenshot_reconcile.png")
        browser.goto(
            "/odoo/action-stripe_connector.stripe_dispute_action", ".o_data_row"
        )
        browser.js("document.querySelector('.o_data_row td[name=stripe_id]').click()")
        browser.wait_for(".o_form_view .o_form_sheet")
        browser.shoot("screenshot_dispute.png")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
