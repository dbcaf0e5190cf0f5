"""Fixtures are split by the part they start; each file is a pytest plugin."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.sip",
    "tests.fixtures.portal",
]
