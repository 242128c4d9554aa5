"""Keep vLLM's CPU linear weights reloadable (test environment only, CPU only).

On the CPU backend, vLLM 0.30 prepacks every 2-D linear weight for its oneDNN / sgl kernels after loading
(`dispatch_cpu_unquantized_gemm` in `vllm/model_executor/layers/utils.py`). For linear layers it then replaces
`layer.weight` by an empty parameter without a `weight_loader`, so TRL's `sync_weights` -> `model.load_weights` fails
with `AttributeError: 'Parameter' object has no attribute 'weight_loader'`; for the (possibly tied) LM head it keeps the
weight but computes the logits from the packed copy, so reloaded weights would be silently ignored. Same class of bug as
vllm-project/vllm#34201.

This plugin makes every 2-D layer compute with plain `torch.nn.functional.linear` on `layer.weight` (what vLLM itself
does for MLA's `kv_b_proj`), so a weight reloaded in place is the weight used. It is registered as a vLLM general plugin
(entry point group `vllm.general_plugins`), which every vLLM process loads: the trainer's colocated engine, an engine
core subprocess and an OpenAI-compatible server. GPU backends never call this function; the patch is a no-op there.
"""

import torch


def _reloadable_gemm(original):
    def dispatch(layer: torch.nn.Module, remove_weight: bool) -> None:
        if layer.weight.is_meta or layer.weight.ndim != 2:
            return original(layer, remove_weight)  # not a linear layer: vLLM's own handling
        layer.cpu_linear = torch.nn.functional.linear

    dispatch.reloadable_cpu_weights = True
    return dispatch


def register() -> None:
    from vllm.model_executor.layers import utils

    if not getattr(utils.dispatch_cpu_unquantized_gemm, "reloadable_cpu_weights", False):
        utils.dispatch_cpu_unquantized_gemm = _reloadable_gemm(utils.dispatch_cpu_unquantized_gemm)
