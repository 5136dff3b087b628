// A small JSON reader that keeps the source position of every value.
//
// Why hand-written: the generator runs inside the compiler (netstandard2.0). Shipping System.Text.Json
// inside an analyzer is a known source of load failures (version clashes with the host), and its
// reader reports byte offsets, not the line/column of each value that our diagnostics point at.
// A Hugging Face config.json is a flat object of scalars and short arrays, so a recursive-descent
// reader of RFC 8259 (plus Python's NaN/Infinity, which json.dumps writes) is all we need.
//
// This file is shared: the generator compiles it, and the runtime library links it in.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace ViTMAE.Compiled.Configuration
{
    /// <summary>The kind of a JSON value.</summary>
    internal enum JsonKind
    {
        Object,
        Array,
        String,
        Number,
        True,
        False,
        Null,
    }

    /// <summary>A position range in the JSON text: offsets and 0-based line/column of start and end.</summary>
    readonly partial struct JsonSpan : IEquatable<JsonSpan>
    {
        /// <summary>Creates a span from offsets and 0-based line/column positions.</summary>
        public JsonSpan(int start, int length, int startLine, int startColumn, int endLine, int endColumn)
        {
            Start = start;
            Length = length;
            StartLine = startLine;
            StartColumn = startColumn;
            EndLine = endLine;
            EndColumn = endColumn;
        }

        /// <summary>Offset of the first character.</summary>
        public int Start { get; }
        /// <summary>Number of characters.</summary>
        public int Length { get; }
        /// <summary>0-based line of the start.</summary>
        public int StartLine { get; }
        /// <summary>0-based column of the start.</summary>
        public int StartColumn { get; }
        /// <summary>0-based line of the end.</summary>
        public int EndLine { get; }
        /// <summary>0-based column of the end.</summary>
        public int EndColumn { get; }

        /// <summary>"line L, column C" (1-based, as editors show it).</summary>
        public string Describe() => string.Format(CultureInfo.InvariantCulture, "line {0}, column {1}", StartLine + 1, StartColumn + 1);

        /// <inheritdoc/>
        public bool Equals(JsonSpan other) =>
            Start == other.Start && Length == other.Length && StartLine == other.StartLine &&
            StartColumn == other.StartColumn && EndLine == other.EndLine && EndColumn == other.EndColumn;

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is JsonSpan other && Equals(other);

        /// <inheritdoc/>
        public override int GetHashCode() => unchecked((Start * 397) ^ Length);
    }

    /// <summary>One JSON value with its position. Objects keep their members in document order.</summary>
    internal sealed class JsonNode
    {
        private JsonNode(JsonKind kind, JsonSpan span)
        {
            Kind = kind;
            Span = span;
        }

        public JsonKind Kind { get; }
        public JsonSpan Span { get; private set; }

        /// <summary>The decoded text of a string, or the literal text of a number.</summary>
        public string Text { get; private set; } = "";

        /// <summary>Members of an object, in document order (duplicates kept; the last one wins on lookup, as in Python).</summary>
        public List<KeyValuePair<JsonNode, JsonNode>> Members { get; } = new List<KeyValuePair<JsonNode, JsonNode>>();

        /// <summary>Items of an array.</summary>
        public List<JsonNode> Items { get; } = new List<JsonNode>();

        /// <summary>True for a number written without fraction or exponent.</summary>
        public bool IsInteger { get; private set; }

        /// <summary>The member named <paramref name="key"/> (the last one, as Python's json does), or null.</summary>
        public JsonNode? this[string key]
        {
            get
            {
                for (int i = Members.Count - 1; i >= 0; i--)
                {
                    if (string.Equals(Members[i].Key.Text, key, StringComparison.Ordinal))
                    {
                        return Members[i].Value;
                    }
                }

                return null;
            }
        }

        /// <summary>The number's value as a double (NaN and ±Infinity included).</summary>
        public double NumberValue => Text switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => double.Parse(Text, NumberStyles.Float, CultureInfo.InvariantCulture),
        };

        /// <summary>A short human name of the kind, for messages ("a string", "an array", …).</summary>
        public string KindName => Kind switch
        {
            JsonKind.Object => "an object",
            JsonKind.Array => "an array",
            JsonKind.String => "a string",
            JsonKind.Number => IsInteger ? "an integer" : "a number",
            JsonKind.True or JsonKind.False => "a boolean",
            _ => "null",
        };

        internal static JsonNode Create(JsonKind kind, JsonSpan span, string text = "", bool isInteger = false) =>
            new JsonNode(kind, span) { Text = text, IsInteger = isInteger };

        internal void SetSpan(JsonSpan span) => Span = span;
    }

    /// <summary>Raised for text that is not valid JSON; carries the position of the offending character.</summary>
    internal sealed class JsonSyntaxException : Exception
    {
        public JsonSyntaxException(string message, JsonSpan span)
            : base(message)
        {
            Span = span;
        }

        public JsonSpan Span { get; }
    }

    /// <summary>Recursive-descent JSON reader producing <see cref="JsonNode"/> trees with positions.</summary>
    internal sealed class JsonTreeReader
    {
        private const int MaxDepth = 64;
        private readonly string _text;
        private readonly int[] _lineStarts;
        private int _pos;

        private JsonTreeReader(string text)
        {
            _text = text;
            var starts = new List<int> { 0 };
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\n')
                {
                    starts.Add(i + 1);
                }
            }

            _lineStarts = starts.ToArray();
        }

        /// <summary>Parses a whole document. Throws <see cref="JsonSyntaxException"/> on invalid JSON.</summary>
        public static JsonNode Parse(string text)
        {
            var reader = new JsonTreeReader(text);
            if (text.Length > 0 && text[0] == '\uFEFF')
            {
                reader._pos = 1;
            }

            reader.SkipWhitespace();
            if (reader._pos >= text.Length)
            {
                throw reader.Error("the file is empty; expected a JSON object", reader._pos);
            }

            JsonNode root = reader.ReadValue(0);
            reader.SkipWhitespace();
            if (reader._pos < text.Length)
            {
                throw reader.Error("unexpected text after the end of the JSON value", reader._pos);
            }

            return root;
        }

        /// <summary>Position of a single offset (zero-length span).</summary>
        public static JsonSpan PointSpan(string text, int offset)
        {
            var reader = new JsonTreeReader(text);
            return reader.MakeSpan(offset, offset);
        }

        private JsonNode ReadValue(int depth)
        {
            if (depth > MaxDepth)
            {
                throw Error("JSON nested deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture) + " levels", _pos);
            }

            if (_pos >= _text.Length)
            {
                throw Error("unexpected end of file; expected a value", _pos);
            }

            char c = _text[_pos];
            switch (c)
            {
                case '{':
                    return ReadObject(depth);
                case '[':
                    return ReadArray(depth);
                case '"':
                    int start = _pos;
                    string s = ReadString();
                    return JsonNode.Create(JsonKind.String, MakeSpan(start, _pos), s);
                case 't':
                    return ReadLiteral("true", JsonKind.True);
                case 'f':
                    return ReadLiteral("false", JsonKind.False);
                case 'n':
                    return ReadLiteral("null", JsonKind.Null);
                case 'N':
                    return ReadLiteral("NaN", JsonKind.Number);
                case 'I':
                    return ReadLiteral("Infinity", JsonKind.Number);
                default:
                    if (c == '-' || (c >= '0' && c <= '9'))
                    {
                        return ReadNumber();
                    }

                    throw Error("unexpected character '" + Printable(c) + "'; expected a value", _pos);
            }
        }

        private JsonNode ReadObject(int depth)
        {
            int start = _pos;
            _pos++; // '{'
            var node = JsonNode.Create(JsonKind.Object, default);
            SkipWhitespace();
            if (Peek() == '}')
            {
                _pos++;
                node.SetSpan(MakeSpan(start, _pos));
                return node;
            }

            while (true)
            {
                SkipWhitespace();
                if (Peek() != '"')
                {
                    throw Error(_pos >= _text.Length ? "unexpected end of file inside an object" : "expected a property name in double quotes", _pos);
                }

                int keyStart = _pos;
                string key = ReadString();
                JsonNode keyNode = JsonNode.Create(JsonKind.String, MakeSpan(keyStart, _pos), key);
                SkipWhitespace();
                if (Peek() != ':')
                {
                    throw Error("expected ':' after property name \"" + key + "\"", _pos);
                }

                _pos++;
                SkipWhitespace();
                JsonNode value = ReadValue(depth + 1);
                node.Members.Add(new KeyValuePair<JsonNode, JsonNode>(keyNode, value));
                SkipWhitespace();
                char c = Peek();
                if (c == ',')
                {
                    _pos++;
                    continue;
                }

                if (c == '}')
                {
                    _pos++;
                    node.SetSpan(MakeSpan(start, _pos));
                    return node;
                }

                throw Error(_pos >= _text.Length ? "unexpected end of file inside an object" : "expected ',' or '}' after a property value", _pos);
            }
        }

        private JsonNode ReadArray(int depth)
        {
            int start = _pos;
            _pos++; // '['
            var node = JsonNode.Create(JsonKind.Array, default);
            SkipWhitespace();
            if (Peek() == ']')
            {
                _pos++;
                node.SetSpan(MakeSpan(start, _pos));
                return node;
            }

            while (true)
            {
                SkipWhitespace();
                node.Items.Add(ReadValue(depth + 1));
                SkipWhitespace();
                char c = Peek();
                if (c == ',')
                {
                    _pos++;
                    continue;
                }

                if (c == ']')
                {
                    _pos++;
                    node.SetSpan(MakeSpan(start, _pos));
                    return node;
                }

                throw Error(_pos >= _text.Length ? "unexpected end of file inside an array" : "expected ',' or ']' after an array item", _pos);
            }
        }

        private string ReadString()
        {
            int start = _pos;
            _pos++; // opening quote
            var sb = new StringBuilder();
            while (true)
            {
                if (_pos >= _text.Length)
                {
                    throw Error("unterminated string", start);
                }

                char c = _text[_pos];
                if (c == '"')
                {
                    _pos++;
                    return sb.ToString();
                }

                if (c < 0x20)
                {
                    throw Error("control character in a string (escape it)", _pos);
                }

                if (c != '\\')
                {
                    sb.Append(c);
                    _pos++;
                    continue;
                }

                if (_pos + 1 >= _text.Length)
                {
                    throw Error("unterminated string", start);
                }

                char e = _text[_pos + 1];
                _pos += 2;
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_pos + 4 > _text.Length ||
                            !int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        {
                            throw Error("invalid \\u escape (expected four hex digits)", _pos - 2);
                        }

                        sb.Append((char)code);
                        _pos += 4;
                        break;
                    default:
                        throw Error("invalid escape '\\" + Printable(e) + "' in a string", _pos - 2);
                }
            }
        }

        private JsonNode ReadNumber()
        {
            int start = _pos;
            if (Peek() == '-')
            {
                _pos++;
                if (Peek() == 'I')
                {
                    ReadLiteral("Infinity", JsonKind.Number);
                    return JsonNode.Create(JsonKind.Number, MakeSpan(start, _pos), "-Infinity");
                }
            }

            if (!IsDigit(Peek()))
            {
                throw Error("invalid number: expected a digit", _pos);
            }

            if (Peek() == '0' && IsDigit(PeekAt(1)))
            {
                throw Error("invalid number: leading zeros are not allowed", start);
            }

            while (IsDigit(Peek()))
            {
                _pos++;
            }

            bool isInteger = true;
            if (Peek() == '.')
            {
                isInteger = false;
                _pos++;
                if (!IsDigit(Peek()))
                {
                    throw Error("invalid number: expected a digit after '.'", _pos);
                }

                while (IsDigit(Peek()))
                {
                    _pos++;
                }
            }

            if (Peek() == 'e' || Peek() == 'E')
            {
                isInteger = false;
                _pos++;
                if (Peek() == '+' || Peek() == '-')
                {
                    _pos++;
                }

                if (!IsDigit(Peek()))
                {
                    throw Error("invalid number: expected a digit in the exponent", _pos);
                }

                while (IsDigit(Peek()))
                {
                    _pos++;
                }
            }

            return JsonNode.Create(JsonKind.Number, MakeSpan(start, _pos), _text.Substring(start, _pos - start), isInteger);
        }

        private JsonNode ReadLiteral(string literal, JsonKind kind)
        {
            int start = _pos;
            if (string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0)
            {
                throw Error("unexpected character '" + Printable(_text[_pos]) + "'; expected a value", _pos);
            }

            _pos += literal.Length;
            return JsonNode.Create(kind, MakeSpan(start, _pos), kind == JsonKind.Number ? literal : "");
        }

        private void SkipWhitespace()
        {
            while (_pos < _text.Length)
            {
                char c = _text[_pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                {
                    return;
                }

                _pos++;
            }
        }

        private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

        private char PeekAt(int ahead) => _pos + ahead < _text.Length ? _text[_pos + ahead] : '\0';

        private static bool IsDigit(char c) => c >= '0' && c <= '9';

        private static string Printable(char c) => c < 0x20 ? "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture) : c.ToString();

        private JsonSyntaxException Error(string message, int offset)
        {
            JsonSpan span = MakeSpan(offset, Math.Min(offset + 1, _text.Length));
            return new JsonSyntaxException(message, span);
        }

        private JsonSpan MakeSpan(int start, int end)
        {
            (int sl, int sc) = LineColumn(start);
            (int el, int ec) = LineColumn(end);
            return new JsonSpan(start, end - start, sl, sc, el, ec);
        }

        private (int Line, int Column) LineColumn(int offset)
        {
            int index = Array.BinarySearch(_lineStarts, offset);
            int line = index >= 0 ? index : ~index - 1;
            return (line, offset - _lineStarts[line]);
        }
    }
}
