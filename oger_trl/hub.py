"""The Hub side of a run: fail fast, with a clear message, when a push cannot happen (offline mode, no network, no
token), and what the model card says about OGER."""

from huggingface_hub import constants, get_session, get_token

from .errors import UsageError


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
        raise UsageError(f"Cannot {action}: {blocker}.")


def card_without_fake_links(card: str, base_model: str | None, local_dataset: str | None) -> str:
    """TRL's card links the base model and dataset to the Hub; name local ones as paths instead."""
    lines = card.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("This model is a fine-tuned version of"):
            line = line.replace("[None](https://huggingface.co/None)", f"the local model `{base_model}`")
            lines[i] = line[:-1] + f" on the local dataset `{local_dataset}`." if local_dataset else line
    return "\n".join(lines)


def oger_card_section(
    args, teacher_counts: dict[str, int], recipe: str | None, *, loss_type: str, scale_rewards: str, beta: float
) -> str:
    """What a reader of an OGER model needs: the teachers, the recipe and the OGER and GRPO settings of `args`."""
    teachers = ", ".join(
        f"{name} ({count} completion{'s' if count != 1 else ''})" for name, count in teacher_counts.items()
    )
    lines = [
        "### OGER",
        "",
        f"- Teachers: {teachers or 'none recorded'}",
        f"- Recipe: `{recipe}`" if recipe else None,
        f"- Hybrid groups: {args.num_offline_per_group} of {args.num_generations} completions per group replaced "
        f"by teacher completions ({args.replacement_strategy} strategy), trained with policy shaping "
        f"(gamma = {args.off_policy_shaping_gamma})",
        f"- Exploration reward: coef {args.exploration_coef} x divergence x "
        f"{'exp(-H_last)' if args.entropy_modulation == 'exp_neg' else '1'} x verifiable reward, divergence "
        f"measured with `{args.encoder_name_or_path}`",
        f"- GRPO: loss_type `{loss_type}`, scale_rewards `{scale_rewards}`, beta {beta}, "
        f"learning rate {args.learning_rate}",
        "",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def with_oger_section(card: str, section: str) -> str:
    """The card with `section` before TRL's framework versions (at the end when the card has none)."""
    marker = "### Framework versions"
    return card.replace(marker, section + marker, 1) if marker in card else card + "\n" + section
