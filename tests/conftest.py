"""Fixtures are split by the part they start; each file is a pytest plugin."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.sample_lake",
    "tests.fixtures.sip",
    "tests.fixtures.portal",
    "tests.fixtures.media",
    "tests.fixtures.voicemail",
    "tests.fixtures.relay",
    "tests.fixtures.main_number",
    "tests.fixtures.call_center",
    "tests.fixtures.bridge_rig",
    "tests.fixtures.queue_events",
]


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """Run browser tests last.

    Playwright's sync API leaves an event loop running in the session, so a
    later test calling ``asyncio.run`` (the media server's) would fail.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
