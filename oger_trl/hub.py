"""Fail fast, with a clear message, when a Hub push cannot happen (offline mode, no network, no token)."""

from huggingface_hub import constants, get_session, get_token


def hub_unreachable_reason(timeout: float = 5.0) -> str | None:
    """Why the Hub cannot be reached, or None when it answers within `timeout` seconds."""
    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)  # huggingface_hub's own HTTP client and settings
    except Exception as err:  # any transport failure of that client (its exception types vary across releases)
        return f"{constants.ENDPOINT} did not answer ({type(err).__name__})"
    return None


def push_blocker(token: str | None = None) -> str | None:
    """Why a push would fail before it starts: the Hub is unreachable or no token is available; None if neither."""
    reason = hub_unreachable_reason()
    if reason:
        return f"the Hugging Face Hub is unreachable ({reason}). Go online or drop the push option"
    if not (token or get_token()):
        return "no Hugging Face token was found. Run `hf auth login`, set HF_TOKEN, or pass --hub_token"
    return None


def require_hub(action: str, token: str | None = None) -> None:
    """Exit before any work when `action` needs the Hub and cannot happen."""
    blocker = push_blocker(token)
    if blocker:
        raise SystemExit(f"Cannot {action}: {blocker}.")
