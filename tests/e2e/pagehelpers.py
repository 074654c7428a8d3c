"""Driving the real page: add files through its file input, wait for events, fetch results.

`AppPage.client` (a following `imgpool_host.pageclient.PageClient`) is how: its
`events()` / `wait_terminal()` give typed `PageEvent`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from imgpool_host.pageclient import PageClient

BOOT_TIMEOUT_MS = 120_000
BATCH_TIMEOUT_MS = 180_000
BATCH_TIMEOUT_S = BATCH_TIMEOUT_MS / 1000


@dataclass
class AppPage:
    page: object
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = PageClient(self.page)

    @classmethod
    def open(cls, context, base_url: str, query: str = "") -> "AppPage":
        page = context.new_page()
        app = cls(page, base_url)
        context.on("request", lambda r: app.requests.append(r.url))
        page.on("pageerror", lambda e: app.console_errors.append(str(e)))
        page.goto(base_url + query)
        failure = app.client.wait_ready(BOOT_TIMEOUT_MS / 1000)
        assert not failure, f"the page did not start: {failure}"
        app.wait_workers_ready()
        return app

    def wait_workers_ready(self, timeout_ms: int = BOOT_TIMEOUT_MS) -> None:
        self.client.wait_pool_idle(timeout_ms / 1000)

    def summary(self) -> dict:
        return self.client.summary()

    def add_files(self, paths: list[Path]) -> None:
        """Add files with the form's options, every one of them processed: a file that is
        not an image fails with its reason instead of being skipped as the drop zone
        does (tests of the person's path use "#file-input" themselves)."""
        self.client.add_with_form(paths)

    def output_bytes(self, task_id: int) -> bytes:
        data = self.client.output_bytes(task_id)
        assert data is not None, f"no result kept for task {task_id}"
        return data

    def assert_same_origin_only(self) -> None:
        origin = urlsplit(self.base_url)
        foreign = [u for u in self.requests
                   if not u.startswith(("blob:", "data:"))
                   and urlsplit(u)[:2] != origin[:2]]
        assert foreign == [], f"requests outside the page's origin: {foreign[:5]}"
