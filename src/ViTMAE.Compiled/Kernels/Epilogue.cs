using System;

namespace ViTMAE.Compiled.Kernels;

/// <summary>What <see cref="PackedLinear.Forward(ReadOnlySpan{float}, Span{float}, int, Epilogue, Activation, Threading.ComputePool)"/> does with y = x·Wᵀ + b before it leaves the register tile.</summary>
[Flags]
public enum Epilogue
{
    /// <summary>output = x·Wᵀ + b.</summary>
    None = 0,

    /// <summary>output = act(x·Wᵀ + b); the activation is the <see cref="Kernels.Activation"/> argument.</summary>
    Activation = 1,

    /// <summary>output += x·Wᵀ + b (fuses the residual add). Combined with <see cref="Activation"/>: output += act(x·Wᵀ + b).</summary>
    Accumulate = 2,
}

/// <summary>Element-wise activation functions (Hugging Face <c>hidden_act</c>).</summary>
public enum Activation
{
    /// <summary>Identity; only valid without <see cref="Epilogue.Activation"/>.</summary>
    None = 0,

    /// <summary><c>gelu</c>: exact 0.5·x·(1 + erf(x/√2)).</summary>
    GeluErf,

    /// <summary><c>gelu_new</c> and <c>gelu_pytorch_tanh</c>: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    GeluTanh,

    /// <summary><c>relu</c>: max(x, 0).</summary>
    Relu,

    /// <summary><c>selu</c> with PyTorch's alpha = 1.6732632423543772848170429916717 and scale = 1.0507009873554804934193349852946.</summary>
    Selu,

    /// <summary><c>gelu_fast</c>: 0.5·x·(1 + tanh(0.7978845608·x·(1 + 0.044715·x²))), Hugging Face's own constant and
    /// evaluation order (the same function as <see cref="GeluTanh"/> up to float rounding).</summary>
    GeluFast,

    /// <summary><c>quick_gelu</c>: x·sigmoid(1.702·x).</summary>
    QuickGelu,

    /// <summary><c>silu</c> and <c>swish</c>: x·sigmoid(x).</summary>
    Silu,
}
