"""Fail fast, with a clear message, when a Hub push cannot happen (offline mode or no network)."""

import sys

import requests
from huggingface_hub import constants


def hub_unreachable_reason(timeout: float = 5.0) -> str | None:
    """Why the Hub cannot be reached, or None when it answers within `timeout` seconds."""
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        requests.head(constants.ENDPOINT, timeout=timeout)
    except requests.RequestException as err:
        return f"{constants.ENDPOINT} did not answer ({type(err).__name__})"
    return None


def require_hub(action: str) -> None:
    """Exit before any work when `action` needs the Hub and the Hub cannot be reached."""
    reason = hub_unreachable_reason()
    if reason:
        sys.exit(
            f"Cannot {action}: the Hugging Face Hub is unreachable ({reason}). Go online or drop the push option."
        )
