"""Readers' personal alerts through a Telegram bot: /watch, its replies, its updates, its deliveries."""
