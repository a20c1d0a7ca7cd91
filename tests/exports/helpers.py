"""Requesting an export through the page, and an export job as the database holds it."""

from datetime import date

from exports.models import ExportJob


def post_export(client, **fields):
    data = {
        "scope": "tenant",
        "kinds": ["deposit", "trade"],
        "format": "koinly",
        "date_from": "2025-01-01",
        "date_to": "2025-12-31",
        **fields,
    }
    return client.post("/exports/", data)


def job_for(tenant, user, **fields):
    defaults = {
        "scope": "tenant",
        "kinds": ["deposit"],
        "format": "koinly",
        "date_from": date(2025, 1, 1),
        "date_to": date(2025, 12, 31),
    }
    return ExportJob.objects.create(tenant=tenant, requested_by=user, **{**defaults, **fields})
