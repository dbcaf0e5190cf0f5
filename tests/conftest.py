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
