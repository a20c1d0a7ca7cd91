"""A tenant's brand colours made safe to read: shades that keep text at WCAG 2.x's 4.5:1 whatever colour the broker
chose (https://www.w3.org/TR/WCAG21/#contrast-minimum, relative luminance and contrast ratio as defined there)."""

MINIMUM_CONTRAST = 4.5  # WCAG 2.1 success criterion 1.4.3, normal-size text
INK = "#1b1f24"  # the portal's text colour (static/css/portal.css --ink)
# Every light surface that coloured text sits on in portal.css: cards, the page, and the message boxes.
SURFACES = ("#ffffff", "#f6f7f9", "#eef3ff", "#fdecea", "#fff4e0", "#e8f6ee")


def rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def hex_color(channels: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in channels)


def luminance(color: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_shade(color: str, surfaces: tuple[str, ...] = SURFACES) -> str:
    """The colour itself when text in it reads on every surface, else the lightest darker shade of it that does
    (mixed toward black in 2% steps, so the hue stays the broker's)."""
    red, green, blue = rgb(color)
    for step in range(51):
        factor = 1 - step / 50
        shade = hex_color((round(red * factor), round(green * factor), round(blue * factor)))
        if all(contrast(shade, surface) >= MINIMUM_CONTRAST for surface in surfaces):
            return shade
    return "#000000"


def text_on(color: str) -> str:
    """Text on a background of this colour: white where it reads, else the portal's ink, else black (on a mid tone
    the ink can fall just short, and one of white and black always reaches 4.5:1)."""
    for candidate in ("#ffffff", INK):
        if contrast(candidate, color) >= MINIMUM_CONTRAST:
            return candidate
    return "#000000"


def theme_variables(*, primary: str, accent: str) -> dict[str, str]:
    """The CSS custom properties the tenant's theme stylesheet sets: the colours as chosen, for borders and bars,
    and their readable shades for text, links and the text on brand-coloured buttons."""
    return {
        "--brand": primary,
        "--accent": accent,
        "--brand-text": readable_shade(primary),
        "--accent-text": readable_shade(accent),
        "--on-brand": text_on(primary),
    }
