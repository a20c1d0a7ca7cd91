from connectors.base.demo import DemoSetup

# The demo broker's code, sent in every order's tag (OKX issues it to a broker; the sandbox takes any).
DEMO = DemoSetup(attribution_settings=(("broker_code", "PortalDemo"),))
