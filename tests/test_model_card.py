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


def test_a_local_model_and_dataset_are_named_as_paths_never_as_hub_links(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder)
    trainer.teacher_counts = {"solo": 1, "duo": 2}
    data = str(tmp_path / "train.parquet")
    trainer.create_model_card(dataset_name=data)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "None" not in card and "huggingface.co/datasets" not in card
    assert "# Model Card for out" in card  # the output folder names the model when no Hub id is set
    assert f"on the local dataset `{data}`." in card
    assert f'model="{tmp_path / "out"}"' in card  # the usage snippet loads the saved folder
    assert "- Teachers: solo (1 completion), duo (2 completions)" in card
