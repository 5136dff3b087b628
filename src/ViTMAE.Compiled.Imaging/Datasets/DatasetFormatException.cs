namespace ViTMAE.Compiled.Imaging.Datasets;

/// <summary>A data set file is not what it claims to be: the message names the file, what was expected and what was found.</summary>
public sealed class DatasetFormatException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public DatasetFormatException(string path, string expected, string found)
        : base(path + ": expected " + expected + ", found " + found)
    {
        Path = path;
    }

    /// <summary>Creates an exception with a message.</summary>
    public DatasetFormatException(string message) : base(message) { }

    /// <summary>Creates an exception with no message.</summary>
    public DatasetFormatException() { }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public DatasetFormatException(string message, System.Exception innerException) : base(message, innerException) { }

    /// <summary>The offending file.</summary>
    public string? Path { get; }
}
