"""Convert a GGUF checkpoint into a Hugging Face safetensors folder that vLLM can serve.

vLLM's CPU build does not load GGUF files, so tests convert SmolLM2-135M once:
transformers dequantizes the GGUF, the weights are saved as bf16 safetensors, the
config loses its ``quantization_config`` (vLLM would otherwise look for a GGUF
kernel) and the tokenizer (with its chat template) is saved next to them.

Run it with the Python of the vLLM virtual environment (it needs torch,
transformers, gguf and accelerate)::

    .venv-vllm/bin/python scripts/vllm/convert_gguf.py model.gguf out_dir/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: ChatML, the template SmolLM2-Instruct was trained with; used only when the GGUF
#: carries no template of its own.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def convert(gguf: Path, out: Path) -> Path:
    """Dequantize ``gguf`` and write a bf16 safetensors folder to ``out``; return ``out``."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE

    # The loader dequantizes into plain nn.Linear weights but marks the model as
    # GGUF-quantized, and save_pretrained refuses to serialize that; so write the
    # (already dequantized) state dict and a config without quantization_config.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # shared with embed_tokens; safetensors rejects aliases

    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(out)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out)
    tokenizer.save_pretrained(out)

    # Some transformers versions re-serialize the quantization attribute; drop it for good.
    config_path = out / "config.json"
    data = json.loads(config_path.read_text())
    if data.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(data, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``convert_gguf.py GGUF OUT_DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", type=Path, help="path of the .gguf file")
    parser.add_argument("out", type=Path, help="folder to write (created if missing)")
    args = parser.parse_args(argv)
    if not args.gguf.is_file():
        print(f"error: no such GGUF file: {args.gguf}", file=sys.stderr)
        return 2
    out = convert(args.gguf, args.out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
