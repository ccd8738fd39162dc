from pageview_platform.cli import entry

entry()
