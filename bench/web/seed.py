"""Run by bench.web in its own process under the development settings (whose sign-in and connect pages speak
http, as the sandbox does): the demo's tenant, one member without connections, one with KuCoin, OKX, Kraken and
Peatio connected through the sandbox's consent pages, and an API token. Prints one JSON object."""

import json
import re

import django

django.setup()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from api.tokens import api_token_create  # noqa: E402
from broker_portal import services  # noqa: E402
from broker_portal.demo import portal_port  # noqa: E402
from broker_portal.models import Membership, Tenant  # noqa: E402
from connectors.demo import seed_demo  # noqa: E402

PASSWORD = "bench-web-passphrase"
EXCHANGES = ("kucoin", "okx", "kraken", "peatio")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def member(tenant, email):
    return services.member_create(
        tenant=tenant, email=email, password=PASSWORD, role=Membership.Role.MEMBER, email_verified=True
    )


def connect(client: Client, exchange_id: str, account: dict) -> None:
    """The permission form, the sandbox's sign-in and consent (approving what it pre-selects), the callback."""
    page = client.get(f"/connect/{exchange_id}/").content.decode()
    chosen = re.findall(r'name="permissions" value="([^"]+)"\s+checked', page)
    authorize_url = client.post(
        f"/connect/{exchange_id}/", {"csrfmiddlewaretoken": CSRF.search(page).group(1), "permissions": chosen}
    )["Location"]
    sandbox = requests.Session()
    consent = sandbox.get(authorize_url).text
    sandbox.post(
        authorize_url,
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": CSRF.search(consent).group(1),
            "action": "sign_in",
            "email": account["email"],
            "password": account["password"],
        },
    )
    consent = sandbox.get(authorize_url).text
    # KuCoin's page ticks its own defaults: there the user ticks what they chose at the portal.
    ticked = chosen if exchange_id == "kucoin" else re.findall(r'name="scope" value="([^"]+)"[^>]*checked', consent)
    answer = sandbox.post(
        authorize_url,
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": CSRF.search(consent).group(1),
            "action": "approve",
            "scope": ticked,
        },
    )
    callback = answer.headers["Location"]
    response = client.get(callback.split(f":{portal_port()}", 1)[1])
    assert response.status_code == 302, (
        exchange_id,
        response.status_code,
        re.sub(r"\s+", " ", response.content.decode())[-3000:],
    )


def main() -> None:
    call_command("migrate", verbosity=0)
    demo = seed_demo()
    tenant = Tenant.objects.get(slug="demo")
    empty, four = member(tenant, "empty@bench.example"), member(tenant, "four@bench.example")
    client = Client(HTTP_HOST=f"localhost:{portal_port()}")
    client.force_login(four)
    for exchange_id in EXCHANGES:
        connect(client, exchange_id, demo["sandbox_accounts"][exchange_id][0])
    _, token = api_token_create(tenant=tenant, user=four, name="bench")
    print(json.dumps({"empty": empty.email, "four": four.email, "password": PASSWORD, "api_token": token}))


if __name__ == "__main__":
    main()
