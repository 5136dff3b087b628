#!/usr/bin/python3
"""PyTorch peer of `vitmae bench --train`: the same ViTMAEForPreTraining training step (forward, backward, AdamW).

Reads a folder written by `vitmae bench --train --export <dir>` (config.json, model.safetensors with Hugging Face's keys,
inputs.safetensors with pixel_values, noise and our first loss), builds the model as Hugging Face's modeling_vit_mae.py
computes it (written out here because transformers is not installable on these machines), checks that its loss equals
ours to 1e-4 (relative) before timing anything, then times training steps and prints one line:

  PyTorch-train model=<name> batch=<B> threads=<T> median_ms=<…> gflops=<…> loss0=<…> ours_loss0=<…>

Run through run.sh, which runs ours and this side by side in one run. Debian 12: apt-get install python3-torch
libopenblas0-pthread; run with /usr/bin/python3 (the system interpreter that has torch).
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    """The safetensors format by hand (the `safetensors` package is not in Debian 12): 8-byte header size, JSON, data."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").copy().reshape(info["shape"]))
    return tensors, metadata


ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "selu": F.selu,
    "silu": F.silu,
    "swish": F.silu,
}


class Layer(nn.Module):
    """ViTMAELayer: pre-LN self-attention and MLP, each with a residual."""

    def __init__(self, dim, heads, mlp, eps, act, qkv_bias):
        super().__init__()
        self.heads = heads
        self.act = ACTIVATIONS[act]
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key = nn.Linear(dim, dim, bias=qkv_bias)
        self.value = nn.Linear(dim, dim, bias=qkv_bias)
        self.attention_output = nn.Linear(dim, dim)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.intermediate = nn.Linear(dim, mlp)
        self.output = nn.Linear(mlp, dim)

    def hf_keys(self, prefix):
        return {
            prefix + "layernorm_before.weight": self.layernorm_before.weight, prefix + "layernorm_before.bias": self.layernorm_before.bias,
            prefix + "attention.attention.query.weight": self.query.weight, prefix + "attention.attention.query.bias": self.query.bias,
            prefix + "attention.attention.key.weight": self.key.weight, prefix + "attention.attention.key.bias": self.key.bias,
            prefix + "attention.attention.value.weight": self.value.weight, prefix + "attention.attention.value.bias": self.value.bias,
            prefix + "attention.output.dense.weight": self.attention_output.weight, prefix + "attention.output.dense.bias": self.attention_output.bias,
            prefix + "layernorm_after.weight": self.layernorm_after.weight, prefix + "layernorm_after.bias": self.layernorm_after.bias,
            prefix + "intermediate.dense.weight": self.intermediate.weight, prefix + "intermediate.dense.bias": self.intermediate.bias,
            prefix + "output.dense.weight": self.output.weight, prefix + "output.dense.bias": self.output.bias,
        }

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        h = self.layernorm_before(x)

        def split(y):
            return y.view(b, t, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        probs = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
        context = (probs @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.attention_output(context)
        return x + self.output(self.act(self.intermediate(self.layernorm_after(x))))


class ViTMAEForPreTraining(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, dd, p = c["hidden_size"], c["decoder_hidden_size"], c["patch_size"]
        size = c["image_size"]
        self.grid = (size, size) if isinstance(size, int) else tuple(size)
        self.grid = (self.grid[0] // p, self.grid[1] // p)
        patches = self.grid[0] * self.grid[1]
        eps, act = c["layer_norm_eps"], c["hidden_act"]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.register_buffer("position_embeddings", torch.zeros(1, 1 + patches, d))  # frozen sin-cos, as in HF
        self.projection = nn.Conv2d(c["num_channels"], d, kernel_size=p, stride=p)
        self.encoder = nn.ModuleList(Layer(d, c["num_attention_heads"], c["intermediate_size"], eps, act, c["qkv_bias"]) for _ in range(c["num_hidden_layers"]))
        self.layernorm = nn.LayerNorm(d, eps=eps)
        self.decoder_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.register_buffer("decoder_pos_embed", torch.zeros(1, 1 + patches, dd))
        self.decoder = nn.ModuleList(Layer(dd, c["decoder_num_attention_heads"], c["decoder_intermediate_size"], eps, act, c["qkv_bias"]) for _ in range(c["decoder_num_hidden_layers"]))
        self.decoder_norm = nn.LayerNorm(dd, eps=eps)
        self.decoder_pred = nn.Linear(dd, p * p * c["num_channels"])

    def hf_keys(self):
        keys = {
            "vit.embeddings.cls_token": self.cls_token, "vit.embeddings.position_embeddings": self.position_embeddings,
            "vit.embeddings.patch_embeddings.projection.weight": self.projection.weight,
            "vit.embeddings.patch_embeddings.projection.bias": self.projection.bias,
            "vit.layernorm.weight": self.layernorm.weight, "vit.layernorm.bias": self.layernorm.bias,
            "decoder.decoder_embed.weight": self.decoder_embed.weight, "decoder.decoder_embed.bias": self.decoder_embed.bias,
            "decoder.mask_token": self.mask_token, "decoder.decoder_pos_embed": self.decoder_pos_embed,
            "decoder.decoder_norm.weight": self.decoder_norm.weight, "decoder.decoder_norm.bias": self.decoder_norm.bias,
            "decoder.decoder_pred.weight": self.decoder_pred.weight, "decoder.decoder_pred.bias": self.decoder_pred.bias,
        }
        for i, layer in enumerate(self.encoder):
            keys.update(layer.hf_keys(f"vit.encoder.layer.{i}."))
        for i, layer in enumerate(self.decoder):
            keys.update(layer.hf_keys(f"decoder.decoder_layers.{i}."))
        return {k: v for k, v in keys.items() if v is not None}

    def load(self, tensors):
        keys = self.hf_keys()
        if set(keys) != set(tensors):
            raise SystemExit(f"checkpoint keys differ: missing {sorted(set(keys) - set(tensors))}, unexpected {sorted(set(tensors) - set(keys))}")
        with torch.no_grad():
            for name, target in keys.items():
                target.copy_(tensors[name].reshape(target.shape))

    def patchify(self, pixels):
        p, (h, w) = self.c["patch_size"], self.grid
        b, ch = pixels.shape[0], pixels.shape[1]
        x = pixels.reshape(b, ch, h, p, w, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(b, h * w, p * p * ch)

    def forward(self, pixels, noise):
        b = pixels.shape[0]
        x = self.projection(pixels).flatten(2).transpose(1, 2) + self.position_embeddings[:, 1:, :]
        patches = x.shape[1]
        keep = int(patches * (1 - self.c["mask_ratio"]))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x = torch.gather(x, 1, ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, x.shape[2]))
        mask = torch.ones(b, patches)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        cls = (self.cls_token + self.position_embeddings[:, :1, :]).expand(b, -1, -1)
        x = torch.cat((cls, x), dim=1)
        for layer in self.encoder:
            x = layer(x)
        x = self.decoder_embed(self.layernorm(x))
        tokens = self.mask_token.repeat(b, patches + 1 - x.shape[1], 1)
        rest = torch.cat((x[:, 1:, :], tokens), dim=1)
        rest = torch.gather(rest, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat((x[:, :1, :], rest), dim=1) + self.decoder_pos_embed
        for layer in self.decoder:
            x = layer(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        target = self.patchify(pixels)
        if self.c["norm_pix_loss"]:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a model folder written by `vitmae bench --train --export <dir>`")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with open(os.path.join(args.folder, "config.json")) as f:
        config = json.load(f)
    weights, _ = read_safetensors(os.path.join(args.folder, "model.safetensors"))
    inputs, meta = read_safetensors(os.path.join(args.folder, "inputs.safetensors"))
    pixels, noise = inputs["pixel_values"], inputs["noise"]
    ours = float(meta["loss"])
    model = ViTMAEForPreTraining(config)
    model.load(weights)

    # The same model first: our loss of these weights and inputs, to 1e-4.
    with torch.no_grad():
        loss0 = model(pixels, noise).item()
    if abs(loss0 - ours) > 1e-4 * max(1.0, abs(ours)):
        print(f"FAIL: PyTorch loss {loss0!r} differs from ours {ours!r} by {abs(loss0 - ours):.3g} (> 1e-4)", file=sys.stderr)
        sys.exit(1)

    # The MAE recipe's parameter groups: weight decay on >= 2-D weights except the tokens; none on biases and norms.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or name in ("cls_token", "mask_token") else decay).append(param)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=float(meta["learning_rate"]), betas=(0.9, 0.95), eps=1e-8)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(pixels, noise)
        loss.backward()
        optimizer.step()

    step()
    step()  # warm
    samples = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        step()
        samples.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(samples)
    flops = int(meta["training_flops_per_image"]) * pixels.shape[0]
    name = os.path.basename(os.path.normpath(args.folder))
    print(f"PyTorch-train model={name} batch={pixels.shape[0]} threads={args.threads} median_ms={median:.2f} "
          f"gflops={flops / (median * 1e6):.1f} min_ms={min(samples):.2f} max_ms={max(samples):.2f} loss0={loss0!r} ours_loss0={ours!r}")


if __name__ == "__main__":
    main()
