"""What the commands share: JSON on stdout, today in China, the settings handed to `serve` workers."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime

import orjson

from gateway.settings import Settings

__all__ = ["env_for_workers", "print_json", "today"]


def print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def today() -> date:
    from gateway.check.status import CHINA

    return datetime.now(CHINA).date()


def env_for_workers(settings: Settings, **overrides: object) -> None:
    """Workers of `serve --workers N` build their own settings from the environment."""
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"DRGATE_{key.upper()}"] = str(value)
