"""The pages benchmark's core at a tiny scale, so that it cannot rot; and what it is for: a page's queries do
not depend on the tenant's size. (The benchmark itself runs at a broker's scale: see bench/README.md.)"""

import pytest

from bench.pages.core import pages, run

pytestmark = pytest.mark.django_db


def test_every_staff_page_and_api_list_costs_the_same_queries_for_a_big_and_a_small_tenant(settings):
    settings.ALLOWED_HOSTS = [".localhost"]
    result = run(scale=0.002, repeat=1)  # 20 users, 100 connections, 2,000 history rows and audit events
    assert result["sizes"]["big"]["history"] == 2000 and result["sizes"]["small"]["users"] == 10
    assert set(result["big"]) == set(result["small"]) == set(pages_of(result))
    differing = {
        name: (result["big"][name]["queries"], result["small"][name]["queries"])
        for name in result["big"]
        if result["big"][name]["queries"] != result["small"][name]["queries"]
    }
    assert not differing, differing
    assert result["plan_cache_mode"] == "force_custom_plan" and result["plans"]["small_after_big_ms"] > 0


def pages_of(result):
    from broker_portal.models import Tenant

    return pages(Tenant.objects.get(slug=f"bench-big-{result['sizes']['big']['users']}"))
