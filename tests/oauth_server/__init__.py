"""A standards-compliant OAuth 2.0 authorization server of our own for the generic provider's tests: the
maintained django-oauth-toolkit in a tiny Django project of its own (its own settings and SQLite database),
run in its own process by tests/connectors/test_oauth2_standard_server.py. It imports nothing of the portal."""
