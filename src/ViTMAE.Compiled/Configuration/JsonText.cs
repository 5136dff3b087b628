// Checks of JSON text that System.Text.Json leaves to the moment a string is read: valid UTF-8, and \u escapes that
// decode to valid UTF-16. JsonDocument.Parse accepts a string holding "\ud800" (an unpaired surrogate escape) or an
// invalid UTF-8 byte, and JsonProperty.Name, JsonElement.GetString() and TryGetProperty then throw
// InvalidOperationException, which is not one of the library's typed errors. The readers of untrusted JSON (safetensors
// headers, model.safetensors.index.json, preprocessor_config.json) run these checks first and report the position.
//
// Not shared with the generator (which reads config.json with its own JsonTree). Compiled into ViTMAE.Compiled and,
// as a linked file, into ViTMAE.Compiled.Imaging (for preprocessor_config.json), so it stays internal to both.

using System;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace ViTMAE.Compiled.Configuration;

/// <summary>A place in JSON text that System.Text.Json would fail to decode, with a message that says what and where.</summary>
/// <param name="ByteOffset">Offset of the offending byte or escape in the UTF-8 text.</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column, in characters.</param>
/// <param name="Message">What was expected and what was found there.</param>
internal sealed record JsonTextProblem(long ByteOffset, int Line, int Column, string Message);

/// <summary>UTF-8 and <c>\u</c>-escape checks of JSON text, made before System.Text.Json decodes any string of it.</summary>
internal static class JsonText
{
    /// <summary>
    /// The first invalid UTF-8 sequence of <paramref name="utf8"/> (its offset, line and column), or null when the whole
    /// text is valid UTF-8.
    /// </summary>
    public static JsonTextProblem? FindInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        if (Utf8.IsValid(utf8))
        {
            return null;
        }

        int offset = 0;
        while (offset < utf8.Length)
        {
            int ascii = utf8[offset..].IndexOfAnyExceptInRange((byte)0, (byte)0x7F);
            if (ascii < 0)
            {
                break;
            }

            offset += ascii;
            if (Rune.DecodeFromUtf8(utf8[offset..], out _, out int consumed) != OperationStatus.Done)
            {
                (int line, int column) = Position(utf8, offset);
                return new JsonTextProblem(offset, line, column, string.Create(CultureInfo.InvariantCulture,
                    $"expected UTF-8 text, found byte 0x{utf8[offset]:X2} at byte offset {offset} (line {line}, column {column}), the start of an invalid UTF-8 sequence"));
            }

            offset += consumed;
        }

        return null; // not reached: Utf8.IsValid found an invalid sequence
    }

    /// <summary>
    /// The first string or property name of <paramref name="utf8Json"/> holding a <c>\u</c> escape that does not decode to
    /// valid UTF-16 (a high surrogate not followed by a low-surrogate escape, or a low surrogate without one before it),
    /// or null when there is none. Text that is not valid JSON under <paramref name="options"/> gives null: the parse that
    /// follows reports it, with its position. The text must be valid UTF-8 (see <see cref="FindInvalidUtf8"/>).
    /// </summary>
    public static JsonTextProblem? FindInvalidEscape(ReadOnlySpan<byte> utf8Json, JsonReaderOptions options)
    {
        var reader = new Utf8JsonReader(utf8Json, options);
        try
        {
            while (reader.Read())
            {
                if (CheckEscapes(ref reader, utf8Json) is JsonTextProblem problem)
                {
                    return problem;
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    /// <summary>
    /// For a string or property-name token of <paramref name="reader"/> (reading <paramref name="utf8Json"/> from its
    /// start, as one span), its first <c>\u</c> escape that does not decode to valid UTF-16; null otherwise.
    /// </summary>
    public static JsonTextProblem? CheckEscapes(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8Json)
    {
        if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped || reader.HasValueSequence)
        {
            return null;
        }

        // The reader has validated the escapes' syntax (a backslash, then one of "\/bfnrtu, \u with four hex digits).
        ReadOnlySpan<byte> value = reader.ValueSpan;
        int pendingHigh = -1;
        int i = 0;
        while (i < value.Length)
        {
            int code = -1, length = 1;
            if (value[i] == (byte)'\\')
            {
                length = 2;
                if (value[i + 1] == (byte)'u')
                {
                    code = int.Parse(value.Slice(i + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    length = 6;
                }
            }

            bool high = code is >= 0xD800 and <= 0xDBFF, low = code is >= 0xDC00 and <= 0xDFFF;
            if (pendingHigh >= 0 && !low)
            {
                return Unpaired(reader, utf8Json, value, pendingHigh, followedBy: value.Slice(i, Math.Min(length, value.Length - i)));
            }

            if (low && pendingHigh < 0)
            {
                return Unpaired(reader, utf8Json, value, i, followedBy: default);
            }

            pendingHigh = high ? i : -1;
            i += length;
        }

        return pendingHigh >= 0 ? Unpaired(reader, utf8Json, value, pendingHigh, followedBy: default) : null;
    }

    private static JsonTextProblem Unpaired(Utf8JsonReader reader, ReadOnlySpan<byte> utf8Json, ReadOnlySpan<byte> value, int at, ReadOnlySpan<byte> followedBy)
    {
        // The token starts at its opening quote; the value follows it.
        long offset = reader.TokenStartIndex + 1 + at;
        (int line, int column) = Position(utf8Json, offset);
        string escape = Encoding.ASCII.GetString(value.Slice(at, 6));
        bool high = int.Parse(value.Slice(at + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) < 0xDC00;
        string what = reader.TokenType == JsonTokenType.PropertyName ? "a property name" : "a string";
        string found = high
            ? $"{escape}, a high surrogate, followed by {(followedBy.IsEmpty ? "the end of the string" : "\"" + Encoding.UTF8.GetString(followedBy) + "\"")}"
            : $"{escape}, a low surrogate with no high-surrogate escape before it";
        return new JsonTextProblem(offset, line, column, string.Create(CultureInfo.InvariantCulture,
            $"{what} at line {line}, column {column} holds an unpaired UTF-16 surrogate escape: expected a high-surrogate escape (\\ud800-\\udbff) followed by a low-surrogate one (\\udc00-\\udfff), found {found}"));
    }

    /// <summary>1-based line and column (in characters) of <paramref name="offset"/>, whose preceding text is valid UTF-8.</summary>
    public static (int Line, int Column) Position(ReadOnlySpan<byte> utf8, long offset)
    {
        ReadOnlySpan<byte> before = utf8[..(int)Math.Min(offset, utf8.Length)];
        int line = 1 + before.Count((byte)'\n');
        int lineStart = before.LastIndexOf((byte)'\n') + 1;
        return (line, 1 + Encoding.UTF8.GetCharCount(before[lineStart..]));
    }
}
