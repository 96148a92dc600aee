"""Writes a tiny random-weight llama GGUF model that llama.cpp loads and serves.

    python make_tiny_gguf.py OUT.gguf

Nothing is downloaded: the weights are random (fixed seed, so the file is byte-identical on every run) and the
tokenizer is a byte-level BPE ("gpt2") vocabulary built here: the 256 byte tokens, a few merges, and the ChatML
special tokens <|endoftext|>, <|im_start|>, <|im_end|> (llama.cpp treats <|im_end|> and <|endoftext|> as end of
generation). Any text can be tokenized. The metadata carries a ChatML chat template and a context length of 512
tokens, so a test can overflow it. The output is gibberish: tests assert on shapes, finish reasons and token
counts, never on words.

Needs the `gguf` package (and numpy, which it depends on).
"""
import sys

import numpy as np
import gguf

SEED = 20261206
CONTEXT_LENGTH = 512
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_LAYER = 2

# ChatML. Used when the server runs without --chat_format (llama-cpp-python then formats with this template and
# still supports a forced tool_choice); it renders the tools, an assistant's tool calls and role "tool" results, so
# they count in prompt_tokens. (--chat_format chatml / chatml-function-calling use templates of their own instead.)
CHAT_TEMPLATE = (
    "{% if tools %}"
    "{{ '<|im_start|>system\\nTools:\\n' }}"
    "{% for tool in tools %}{{ tool | tojson }}{{ '\\n' }}{% endfor %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% elif message['content'] %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{% if message['tool_calls'] %}{% for call in message['tool_calls'] %}"
    "{{ '<tool_call>' }}{{ call['function']['name'] }} {{ call['function']['arguments'] }}{{ '</tool_call>' }}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# A few merges so the BPE merge table is not empty (pairs of GPT-2 byte symbols; "Ġ" is the space).
MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("e", "r"), ("a", "n"), ("o", "n"), ("Ġ", "a"),
    ("r", "e"), ("Ġ", "s"), ("e", "n"), ("a", "t"), ("o", "r"), ("Ġ", "w"), ("e", "s"), ("Ġ", "c"),
    ("i", "s"), ("i", "t"), ("Ġ", "f"), ("Ġ", "o"), ("in", "g"), ("Ġ", "b"), ("Ġ", "m"), ("Ġ", "p"),
    ("\"", ":"), ("{", "\""), ("\"", ","), ("Ġ", "\""), ("Ċ", "Ċ"), ("Ġ", "Ġ"),
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_symbols():
    """GPT-2's reversible byte -> printable unicode mapping, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    table = dict(zip(printable, codes))
    return [chr(table[b]) for b in range(256)]


def vocabulary():
    tokens = byte_symbols()
    types = [gguf.TokenType.NORMAL] * len(tokens)
    merges = []
    for left, right in MERGES:
        assert left in tokens and right in tokens, (left, right)
        merged = left + right
        merges.append(f"{left} {right}")
        if merged not in tokens:
            tokens.append(merged)
            types.append(gguf.TokenType.NORMAL)
    for token in SPECIAL:
        tokens.append(token)
        types.append(gguf.TokenType.CONTROL)
    return tokens, types, merges


def main(path):
    rng = np.random.default_rng(SEED)
    tokens, types, merges = vocabulary()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("swiftlet-tiny-random")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eos_token_id(tokens.index("<|im_end|>"))
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    def matrix(rows, cols, scale=0.5):
        # numpy shape (rows, cols) is ggml's ne = [cols, rows]
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)

    def ones(n):
        return np.ones((n,), dtype=np.float32)

    writer.add_tensor("token_embd.weight", matrix(n_vocab, N_EMBD, scale=1.0))
    for layer in range(N_LAYER):
        prefix = f"blk.{layer}."
        writer.add_tensor(prefix + "attn_norm.weight", ones(N_EMBD))
        writer.add_tensor(prefix + "attn_q.weight", matrix(N_EMBD, N_EMBD))
        writer.add_tensor(prefix + "attn_k.weight", matrix(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(prefix + "attn_v.weight", matrix(N_HEAD_KV * head_dim, N_EMBD))
        writer.add_tensor(prefix + "attn_output.weight", matrix(N_EMBD, N_EMBD))
        writer.add_tensor(prefix + "ffn_norm.weight", ones(N_EMBD))
        writer.add_tensor(prefix + "ffn_gate.weight", matrix(N_FF, N_EMBD))
        writer.add_tensor(prefix + "ffn_up.weight", matrix(N_FF, N_EMBD))
        writer.add_tensor(prefix + "ffn_down.weight", matrix(N_EMBD, N_FF))
    writer.add_tensor("output_norm.weight", ones(N_EMBD))
    writer.add_tensor("output.weight", matrix(n_vocab, N_EMBD, scale=2.0))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_tiny_gguf.py OUT.gguf")
    main(sys.argv[1])
