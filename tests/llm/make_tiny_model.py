"""Writes a tiny llama-architecture GGUF model with random weights, for tests.

The tests exercise the OpenAI-compatible protocol, streaming and token counts, not what
the model says, so the weights are random (seeded: the same file every time). The
vocabulary is SentencePiece-style ("llama" tokenizer): control tokens, 256 byte-fallback
tokens and a few hundred word pieces, so llama.cpp can tokenize any prompt. The output
layer gives byte and control tokens zero logits, so greedy decoding emits word pieces
(whole UTF-8 characters: every streamed chunk carries text).

    python make_tiny_model.py OUT.gguf
"""

import sys

import numpy as np
from gguf import GGUFWriter, TokenType

N_EMBD, N_HEAD, N_LAYER, N_FF, N_CTX = 64, 4, 2, 128, 512


def vocabulary():
    tokens = [b"<unk>", b"<s>", b"</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>".encode())
        types.append(TokenType.BYTE)
    letters = "abcdefghijklmnopqrstuvwxyz"
    pieces = [c for c in letters] + ["\u2581" + c for c in letters]
    pieces += ["\u2581" + a + b for a in "aeiou" for b in letters]
    for piece in pieces:
        tokens.append(piece.encode())
        types.append(TokenType.NORMAL)
    scores = [0.0] * len(tokens)
    # Longer pieces first in SentencePiece's merge order.
    for i, t in enumerate(tokens):
        if types[i] == TokenType.NORMAL:
            scores[i] = -1.0 / len(t)
    return tokens, scores, types


def main(out):
    rng = np.random.default_rng(19)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    w = GGUFWriter(out, "llama")
    w.add_name("modelwatch-tiny")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def rand(*shape, scale=0.5):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = rand(n_vocab, N_EMBD)
    output[[i for i, t in enumerate(types) if t != TokenType.NORMAL]] = 0.0
    w.add_tensor("output.weight", output)
    for layer in range(N_LAYER):
        p = f"blk.{layer}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + name + ".weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", rand(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1])
