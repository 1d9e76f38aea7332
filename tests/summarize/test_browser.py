"""The HTML summary renders in headless Chromium: no console errors, one panel per shown group."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]  # fmt: skip


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_summary_renders_in_headless_chromium(summary_run, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no Chromium binary found (apt-get install chromium); CI installs it in .ci/run"
        )
    out, result = summary_run
    assert result.exit_code == 0
    page = (out / "summary.html").resolve().as_uri()
    groups = json.loads((out / "groups.json").read_text())["groups"]
    shown = sum(g["shown"] for g in groups)
    assert shown == len(groups) > 0  # below --max-panels: one panel per group

    def run(*extra: str, profile: str) -> subprocess.CompletedProcess:
        cmd = [browser, *FLAGS, f"--user-data-dir={tmp_path / profile}", "--enable-logging=stderr", "--v=0", *extra, page]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    dom = run("--dump-dom", "--virtual-time-budget=2000", profile="dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, dom.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("errors") == "0"
    assert int(attrs["panels"]) == shown == int(attrs["panels-expected"])
    assert f"rendered {shown} panels" in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "rror" in line], console

    shot = out / "summary_screenshot.png"
    snap = run(
        f"--screenshot={shot}", "--window-size=1400,2400", "--hide-scrollbars", profile="shot"
    )
    assert snap.returncode == 0, snap.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
