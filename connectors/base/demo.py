"""How the demo, and the tests, register an exchange's client at the exchange sandbox: what its package says
about that as data (its ``demo`` module's ``DEMO``)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoSetup:
    # The sandbox's mount of the exchange's OAuth host where that is apart from its API host (KuCoin's www host).
    authorize_mount: str = ""
    # Portal paths the exchange sends users back to besides the connect callback (KuCoin's security setup).
    extra_return_paths: tuple[str, ...] = ()
    # The exchange attributes every call to the broker (KuCoin): the demo's partner id is the client id and its
    # broker key the client secret, and the sandbox issues the broker name.
    broker_attribution: bool = False
    # Credential settings the demo's broker has from the exchange for its attribution (OKX's broker code).
    attribution_settings: tuple[tuple[str, str], ...] = ()

    def base_urls(self, sandbox_url: str, exchange_id: str) -> tuple[str, str]:
        """The credential's authorize and API base URLs on the sandbox at ``sandbox_url``."""
        api = f"{sandbox_url}/{exchange_id}"
        return (f"{sandbox_url}/{self.authorize_mount}" if self.authorize_mount else api), api
