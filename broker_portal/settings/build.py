"""Image build: just what collectstatic needs. No key, no database, nothing from the environment, so the build
needs no secret and none ends up in a layer. It collects what production serves (the same apps and storage)."""

from .base import *  # noqa: F401,F403
