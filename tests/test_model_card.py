"""The Hub model card names OGER, cites the paper (and GRPO) and carries the OGER tags."""

from helpers import make_trainer


def test_model_card_credits_oger(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder)
    trainer.create_model_card(model_name="tiny-oger")
    card = (tmp_path / "out" / "README.md").read_text()
    assert "trained with OGER" in card
    assert "https://huggingface.co/papers/2604.18530" in card
    assert "OGER: A Robust Offline-Guided Exploration Reward for Hybrid Reinforcement Learning" in card
    assert "@article{ma2026oger" in card and "@article{shao2024deepseekmath" in card
    for tag in ("trl", "grpo", "oger"):
        assert f"- {tag}" in card
