"""A tiny randomly initialised Llama with a real (small) BPE tokenizer and chat template.

A few MB and built in about a second, so unit tests exercise the real transformers/peft code
paths without the 135M default model.
"""

from __future__ import annotations

from manyshores.runtime.base_model import BaseModel, prepare_base_model

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "What do people in Kenya usually eat for breakfast? Tea, mandazi and porridge.",
    "How important is family in your life? Very important, rather important, not very important, not at all important.",
    "Answer with the option that fits best. Options: A, B, C, D. Answer:",
    "In Japan, Spain, Mexico, the United States and China people celebrate the new year.",
    "The quick brown fox jumps over the lazy dog 0 1 2 3 4 5 6 7 8 9 10.",
    "¿Qué comen los niños en México? 你好 こんにちは 안녕하세요 Γειά σου مرحبا",
]


def build_tiny_tokenizer(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_base_model(seed: int = 0, hidden: int = 64, layers: int = 2) -> BaseModel:
    """A fresh tiny base model; same seed, same weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    return prepare_base_model(model, tokenizer, spec="tiny", path="<memory>")
