from connectors.base.demo import DemoSetup

DEMO = DemoSetup()
