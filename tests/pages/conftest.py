"""Browser fixtures: the system's Chromium driven by Playwright, one fresh profile each.

Nothing is downloaded: Playwright launches ``/usr/bin/chromium`` (Debian's package;
``CHROMIUM`` names another), never a browser of its own. The tests skip, saying so,
only when that executable is absent; ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.is_file()
# Headless, and quiet: no network of its own (updates, sync, QUIC probes), no first-run UI.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"viewport": {"width": 1280, "height": 860}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

BrowserFactory = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserFactory]:
    """Launch browsers (each its own Chromium process and empty profile); close them after."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    contexts: list[BrowserContext] = []
    async with async_playwright() as playwright:

        async def launch(name: str = "a", **options: Any) -> BrowserContext:
            context = await playwright.chromium.launch_persistent_context(
                tmp_path / f"profile-{name}",
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                timezone_id=options.pop("timezone_id", "Europe/Berlin"),
                locale="en-GB",
                **{**DESKTOP, **options},
            )
            context.set_default_timeout(10_000)  # fail in seconds, not Playwright's 30
            contexts.append(context)
            return context

        yield launch
        for context in contexts:
            await context.close()


def keep_artefact(path: Path) -> None:
    """Copy a test's file to ARTIFACTS_DIR when it is set (CI keeps that folder)."""
    folder = os.environ.get("ARTIFACTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


async def screenshot(page: Page, path: Path) -> Path:
    """Save a full-page screenshot as a test artefact; return its path."""
    await page.screenshot(path=str(path), full_page=True)
    keep_artefact(path)
    return path
