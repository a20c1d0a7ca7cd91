from tests.connectors.conftest import browser_session, portal, sandbox_accounts  # noqa: F401  (shared fixtures)
