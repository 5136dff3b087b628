using System;

namespace ViTMAE.Compiled.Modeling;

/// <summary>A forward call's inputs do not fit the compiled model or the session.</summary>
public sealed class ViTMAEInputException : ViTMAEException
{
    /// <summary>Creates the exception for input <paramref name="input"/>.</summary>
    public ViTMAEInputException(string input, string message)
        : base(input + ": " + message)
    {
        Input = input;
    }

    /// <summary>Creates an exception with a message.</summary>
    public ViTMAEInputException(string message) : base(message) => Input = "";

    /// <summary>Creates an exception with a message and a cause.</summary>
    public ViTMAEInputException(string message, Exception innerException) : base(message, innerException) => Input = "";

    /// <summary>Creates an exception with no message.</summary>
    public ViTMAEInputException() => Input = "";

    /// <summary>Which input was wrong (<c>pixel_values</c>, <c>noise</c>, <c>head_mask</c>, <c>batch</c>, …).</summary>
    public string Input { get; }
}
