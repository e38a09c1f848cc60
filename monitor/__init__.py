"""monitor: watch breaking-news tickers and send new lines that match rules to chat channels."""

__version__ = "0.1.0"
