"""A tenant's colours become shades that keep text at 4.5:1 (WCAG 2.1, 1.4.3) whatever the broker chose."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker_portal.branding import SURFACES, contrast, readable_shade, text_on, theme_variables

colors = st.integers(min_value=0, max_value=0xFFFFFF).map(lambda value: f"#{value:06x}")


def test_contrast_matches_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1)
    # WebAIM's checker gives #767676 on white 4.54:1, the lightest grey that passes.
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_a_colour_that_already_reads_is_kept():
    assert readable_shade("#1f4fd1") == "#1f4fd1"
    assert theme_variables(primary="#1f4fd1", accent="#0f9d58")["--on-brand"] == "#ffffff"


def test_a_pale_brand_gets_a_darker_shade_of_its_own_hue_and_dark_text_on_its_buttons():
    shade = readable_shade("#ffe066")
    assert shade != "#ffe066" and all(contrast(shade, surface) >= 4.5 for surface in SURFACES)
    red, green, blue = (int(shade[i : i + 2], 16) for i in (1, 3, 5))
    assert red > green > blue  # still a yellow
    assert text_on("#ffe066") == "#1b1f24"


@given(colors)
def test_any_colour_yields_readable_text_and_readable_text_on_it(color):
    shade = readable_shade(color)
    assert all(contrast(shade, surface) >= 4.5 for surface in SURFACES)
    assert contrast(text_on(color), color) >= 4.5


@pytest.mark.django_db
def test_the_theme_stylesheet_carries_the_safe_shades(tenant, client_at):
    tenant.primary_color, tenant.accent_color = "#ffe066", "#f5f500"
    tenant.save()
    css = client_at("alpha.localhost").get("/branding/theme.css").content.decode()
    assert "--brand: #ffe066;" in css and "--accent: #f5f500;" in css
    assert f"--brand-text: {readable_shade('#ffe066')};" in css
    assert f"--accent-text: {readable_shade('#f5f500')};" in css and "--on-brand: #1b1f24;" in css
