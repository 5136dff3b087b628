using System;

namespace ViTMAE.Compiled;

/// <summary>Base class of every error the ViTMAE.Compiled runtime raises on bad input.</summary>
public class ViTMAEException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public ViTMAEException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public ViTMAEException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public ViTMAEException() { }
}
