using System;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// An image could not be decoded: the data is corrupt or truncated. Derived types name the more specific
/// cases (missing file, unsupported format, image over the size limit). The message names the file, what
/// was expected and what was found.
/// </summary>
public class ImageDecodeException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="filePath"/> with what was expected and what was found.</summary>
    /// <param name="filePath">The file (or the caller's name for an in-memory image); may be <see langword="null"/>.</param>
    /// <param name="expected">What the decoder needed, e.g. "a complete JPEG ending with the EOI marker".</param>
    /// <param name="found">What it found instead, e.g. "the data ends inside the SOS segment at byte 812".</param>
    /// <param name="innerException">The decoder's own error, if any.</param>
    public ImageDecodeException(string? filePath, string expected, string found, Exception? innerException = null)
        : base(Format(filePath, expected, found), innerException!)
    {
        FilePath = filePath;
        Expected = expected;
        Found = found;
    }

    /// <summary>Creates an exception with a message.</summary>
    public ImageDecodeException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public ImageDecodeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public ImageDecodeException() { }

    /// <summary>The offending file as given by the caller, or the name given to an in-memory image.</summary>
    public string? FilePath { get; }

    /// <summary>What the decoder expected.</summary>
    public string? Expected { get; }

    /// <summary>What the decoder found instead.</summary>
    public string? Found { get; }

    private static string Format(string? filePath, string expected, string found) =>
        $"{(string.IsNullOrEmpty(filePath) ? "<image data>" : filePath)}: expected {expected}, found {found}.";
}

/// <summary>The image file does not exist or cannot be opened.</summary>
public sealed class ImageFileNotFoundException : ImageDecodeException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    public ImageFileNotFoundException(string filePath, string found, Exception? innerException = null)
        : base(filePath, "an existing, readable image file", found, innerException) { }

    /// <summary>Creates an exception with a message.</summary>
    public ImageFileNotFoundException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public ImageFileNotFoundException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public ImageFileNotFoundException() { }
}

/// <summary>The data is not PNG, JPEG, BMP or GIF, or uses a variant of them the decoder does not support.</summary>
public sealed class UnsupportedImageFormatException : ImageDecodeException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    public UnsupportedImageFormatException(string? filePath, string expected, string found, Exception? innerException = null)
        : base(filePath, expected, found, innerException) { }

    /// <summary>Creates an exception with a message.</summary>
    public UnsupportedImageFormatException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public UnsupportedImageFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public UnsupportedImageFormatException() { }
}

/// <summary>
/// The image header declares a size over the decoder's limit (see <see cref="ImageDecodeOptions"/>). Raised from
/// the header alone, before any pixel memory is allocated.
/// </summary>
public sealed class ImageTooLargeException : ImageDecodeException
{
    /// <summary>Creates the exception for an image of <paramref name="width"/>×<paramref name="height"/>.</summary>
    public ImageTooLargeException(string? filePath, int width, int height, ImageDecodeOptions limits)
        : base(
            filePath,
            $"at most {(limits ?? throw new ArgumentNullException(nameof(limits))).MaxSide} pixels per side and {limits.MaxPixels} pixels in all",
            $"a {width}×{height} image ({(long)width * height} pixels)")
    {
        Width = width;
        Height = height;
    }

    /// <summary>Creates the exception for an image whose decoding would need <paramref name="decodedBytes"/>, over the budget.</summary>
    public ImageTooLargeException(string? filePath, int width, int height, long decodedBytes, ImageDecodeOptions limits)
        : base(
            filePath,
            $"an image that decodes in at most {(limits ?? throw new ArgumentNullException(nameof(limits))).MaxDecodedBytes} bytes (ImageDecodeOptions.MaxDecodedBytes)",
            $"a {width}×{height} image that needs {decodedBytes} bytes to decode")
    {
        Width = width;
        Height = height;
        DecodedBytes = decodedBytes;
    }

    /// <summary>Creates an exception with a message.</summary>
    public ImageTooLargeException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public ImageTooLargeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public ImageTooLargeException() { }

    /// <summary>Width declared by the header.</summary>
    public int Width { get; }

    /// <summary>Height declared by the header.</summary>
    public int Height { get; }

    /// <summary>Bytes the decoding would have needed, when the budget (not the size limits) refused it; else 0.</summary>
    public long DecodedBytes { get; }
}

/// <summary>A Hugging Face <c>preprocessor_config.json</c> is malformed or asks for something not supported.</summary>
public sealed class PreprocessorConfigException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="source"/> (a path or a description) with a message.</summary>
    public PreprocessorConfigException(string? source, string message, Exception? innerException = null)
        : base($"{(string.IsNullOrEmpty(source) ? "<preprocessor config>" : source)}: {message}", innerException!)
    {
        ConfigSource = source;
    }

    /// <summary>Creates an exception with a message.</summary>
    public PreprocessorConfigException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public PreprocessorConfigException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public PreprocessorConfigException() { }

    /// <summary>The path or description of the offending configuration, as given by the caller.</summary>
    public string? ConfigSource { get; }
}
