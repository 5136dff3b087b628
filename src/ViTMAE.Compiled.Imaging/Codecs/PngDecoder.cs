using System;
using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>
/// PNG decoder, written here rather than borrowed: stb_image (the previous decoder) is unbounded native-style code
/// (a small IDAT that inflates to a gibibyte was inflated in full; an empty zlib stream surfaced as an
/// <see cref="ArgumentNullException"/> from inside it), and the BCL has no PNG decoder. The BCL does provide
/// zlib (<see cref="ZLibStream"/>), so this file is the chunk walk, the bounded inflate, the five filters, Adam7 and
/// PIL's <c>convert("RGB")</c> of every colour type and bit depth.
/// </summary>
/// <remarks>
/// <para>Behaviour follows PIL 9.4.0 (<c>PngImagePlugin.py</c>, <c>ZipDecode.c</c>, <c>Unpack.c</c>); each rule was
/// checked by running python3-pil 9.4.0 on hand-made files:</para>
/// <list type="bullet">
/// <item>Every chunk before the first IDAT has its CRC verified, ancillary ones included (PIL's <c>ChunkStream.crc</c>
/// without <c>LOAD_TRUNCATED_IMAGES</c>); the CRCs of IDAT and later chunks are not read, as in PIL's
/// <c>load_read</c>/<c>load_end</c>. Chunk types before the image data must be four ASCII letters, digits or '_'
/// (PIL's <c>is_cid</c>).</item>
/// <item>IHDR must come first (PIL tolerates ancillary chunks before it; the PNG specification does not) and be at
/// least 13 bytes (longer is accepted, as in PIL). The (bit depth, colour type) pair must be one PIL knows; a
/// non-zero filter method is an error; the compression method byte is ignored; any non-zero interlace byte means
/// Adam7 (PIL tests <c>s[12]</c> for truth). CgBI ("crushed" Apple) files are refused: their IDAT is raw deflate,
/// which PIL cannot read either.</item>
/// <item>The image data is the run of consecutive IDAT chunks from the first one (empty IDATs included); a different
/// chunk ends it, so IDATs split by another chunk are truncated data, as in PIL. A chunk cut short by the end of the
/// file contributes the bytes present. Nothing after the image data is read: a file that stops after it, with or
/// without IEND or a final CRC, decodes.</item>
/// <item>zlib: the header is checked and exactly the expected filtered size (rows × (1 + row bytes), pass by pass
/// for Adam7) is inflated. A stream that runs out of IDAT data earlier, or ends inside a row, is truncated data; a
/// stream that ends properly (end block and Adler-32) after a whole row ends the image there, the rest staying zero
/// (black, or palette entry 0), because PIL's zip decoder stops at the stream's end. PIL stops inflating once the image is
/// complete. Here up to <see cref="InflateSlack"/> further bytes are inflated to find the stream's end: a stream
/// that is corrupt there (e.g. a wrong Adler-32, which PIL also reports when its last read reaches it) or that goes
/// on past the slack (the signature of a zlib bomb; no encoder writes it) is refused. A stream that simply stops
/// after the image data, without its checksum, is accepted like PIL accepts it.</item>
/// <item>A filter type above 4 is an error ("unrecognized data stream contents" in PIL).</item>
/// <item>Colours: grey 1/2/4-bit scaled to 0..255 (×255, ×85, ×17); 16-bit grey opens as mode I and is
/// <b>clamped</b> to 0..255; 16-bit RGB, RGBA and grey+alpha keep each sample's high byte; alpha is dropped;
/// tRNS is ignored.</item>
/// <item>Palette: the last PLTE before the image data, in entries of 3 bytes (a partial last entry is dropped); more
/// than 256 entries is an error ("invalid palette size"); an index past the palette, or any index when there is no
/// PLTE, gives grey (i, i, i), because PIL's palettes start as a grey ramp. PLTE after the image data is ignored.</item>
/// </list>
/// </remarks>
internal static class PngDecoder
{
    /// <summary>Decompressed bytes inflated past the expected image data before the stream counts as corrupt.</summary>
    internal const int InflateSlack = 64 * 1024;

    private const string Format = "PNG";

    // Adam7: x start, y start, x step, y step for the seven passes.
    private static readonly int[] Adam7 =
    [
        0, 0, 8, 8,
        4, 0, 8, 8,
        0, 4, 4, 8,
        2, 0, 4, 4,
        0, 2, 2, 4,
        1, 0, 2, 2,
        0, 1, 1, 2,
    ];

    private static readonly uint[] CrcTable = MakeCrcTable();

    /// <summary>Decodes <paramref name="data"/> (a whole PNG file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        Header header = ReadHeader(data, name);
        long width = header.Width, height = header.Height;
        int channels = header.ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int bitsPerPixel = channels * header.BitDepth;
        long rawBytes = RawSize(width, height, bitsPerPixel, header.Interlaced);
        long rgbBytes = Codec.RgbBytes(width, height);
        Codec.CheckSize(name, Format, options, width, height, rgbBytes + rawBytes);
        if (rawBytes > Array.MaxLength || rgbBytes > Array.MaxLength)
        {
            throw new ImageTooLargeException(name, (int)width, (int)height, rgbBytes + rawBytes, options);
        }

        byte[]? lut = header.ColorType == 3 || (header.ColorType == 0 && header.BitDepth <= 8) ? MakeLut(data, header, name) : null;

        byte[] raw = new byte[rawBytes];
        Inflate(data, header.FirstIdat, raw, filled => EndsOnRow(filled, width, height, bitsPerPixel, header.Interlaced), name);

        var image = new RgbImage((int)width, (int)height);
        int w = (int)width, h = (int)height;
        int bytesPerPixel = Math.Max(1, bitsPerPixel / 8);
        int offset = 0;
        if (!header.Interlaced)
        {
            Unfilter(raw, ref offset, w, h, bitsPerPixel, bytesPerPixel, name);
            ConvertPass(raw, 0, header, lut, image.Pixels, w, h, 0, 0, 1, 1);
        }
        else
        {
            for (int pass = 0; pass < 7; pass++)
            {
                int x0 = Adam7[4 * pass], y0 = Adam7[(4 * pass) + 1], dx = Adam7[(4 * pass) + 2], dy = Adam7[(4 * pass) + 3];
                int pw = PassSize(w, x0, dx), ph = PassSize(h, y0, dy);
                if (pw == 0 || ph == 0)
                {
                    continue;
                }

                int start = offset;
                Unfilter(raw, ref offset, pw, ph, bitsPerPixel, bytesPerPixel, name);
                ConvertPass(raw, start, header, lut, image.Pixels, pw, ph, x0, y0, dx, dy, w);
            }
        }

        return image;
    }

    private struct Header
    {
        public long Width;
        public long Height;
        public int BitDepth;
        public int ColorType;
        public bool Interlaced;
        public int PaletteOffset;
        public int PaletteLength;
        public int FirstIdat;
    }

    private static Header ReadHeader(byte[] data, string? name)
    {
        var header = new Header { PaletteOffset = -1 };
        bool sawHeader = false;
        int pos = 8;
        while (true)
        {
            if (pos > data.Length - 8)
            {
                throw Codec.Truncated(name, Format, sawHeader ? "a chunk header before the image data" : "the IHDR chunk", pos, data.Length);
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            ReadOnlySpan<byte> type = data.AsSpan(pos + 4, 4);
            if (pos == 8)
            {
                if (type.SequenceEqual("CgBI"u8))
                {
                    throw new UnsupportedImageFormatException(name, "a standard PNG", "an Apple CgBI ('crushed') PNG, which PIL cannot read either");
                }

                if (!type.SequenceEqual("IHDR"u8))
                {
                    throw new ImageDecodeException(name, "the IHDR chunk first", $"'{Codec.ChunkName(type)}'");
                }
            }

            if (!IsChunkType(type))
            {
                throw new ImageDecodeException(name, "a PNG chunk type of four letters or digits", $"{Codec.Hex(type)} at byte {pos + 4}");
            }

            if (type.SequenceEqual("IDAT"u8))
            {
                header.FirstIdat = pos;
                return header;
            }

            if (type.SequenceEqual("IEND"u8))
            {
                throw new ImageDecodeException(name, "an IDAT chunk before IEND", "IEND first");
            }

            long dataStart = pos + 8L, dataEnd = dataStart + length;
            if (dataEnd + 4 > data.Length)
            {
                throw Codec.Truncated(name, Format, $"the whole '{Codec.ChunkName(type)}' chunk ({length} bytes of data and a CRC from byte {pos + 8})", pos, data.Length);
            }

            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan((int)dataEnd));
            uint computed = Crc32(data.AsSpan(pos + 4, (int)length + 4));
            if (stored != computed)
            {
                throw new ImageDecodeException(name, $"a correct CRC for the '{Codec.ChunkName(type)}' chunk at byte {pos}", $"{stored:X8} (computed {computed:X8})");
            }

            if (type.SequenceEqual("IHDR"u8))
            {
                ReadIhdr(data.AsSpan((int)dataStart, (int)length), ref header, name);
                sawHeader = true;
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                header.PaletteOffset = (int)dataStart;
                header.PaletteLength = (int)length;
            }

            pos = (int)dataEnd + 4;
        }
    }

    private static void ReadIhdr(ReadOnlySpan<byte> ihdr, ref Header header, string? name)
    {
        if (ihdr.Length < 13)
        {
            throw new ImageDecodeException(name, "an IHDR chunk of 13 bytes", $"{ihdr.Length} bytes");
        }

        header.Width = BinaryPrimitives.ReadUInt32BigEndian(ihdr);
        header.Height = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
        int depth = ihdr[8], colorType = ihdr[9];
        bool known = colorType switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => false,
        };
        if (!known)
        {
            throw new ImageDecodeException(name, "a PNG bit depth and colour type pair of the PNG specification", $"bit depth {depth} with colour type {colorType}");
        }

        if (ihdr[11] != 0)
        {
            throw new ImageDecodeException(name, "PNG filter method 0", $"filter method {ihdr[11]}");
        }

        header.BitDepth = depth;
        header.ColorType = colorType;
        header.Interlaced = ihdr[12] != 0;
    }

    private static bool IsChunkType(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
        {
            if (!(b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'_'))
            {
                return false;
            }
        }

        return true;
    }

    private static int PassSize(int size, int start, int step) => size > start ? ((size - start + step - 1) / step) : 0;

    /// <summary>Bytes of filtered scanlines (a filter byte per row) the zlib stream must hold.</summary>
    internal static long RawSize(long width, long height, int bitsPerPixel, bool interlaced)
    {
        if (!interlaced)
        {
            return height * (1 + (((width * bitsPerPixel) + 7) / 8));
        }

        long total = 0;
        for (int pass = 0; pass < 7; pass++)
        {
            long x0 = Adam7[4 * pass], y0 = Adam7[(4 * pass) + 1], dx = Adam7[(4 * pass) + 2], dy = Adam7[(4 * pass) + 3];
            long pw = width > x0 ? (width - x0 + dx - 1) / dx : 0;
            long ph = height > y0 ? (height - y0 + dy - 1) / dy : 0;
            if (pw > 0 && ph > 0)
            {
                total += ph * (1 + (((pw * bitsPerPixel) + 7) / 8));
            }
        }

        return total;
    }

    /// <summary>Index (or low-depth grey sample) to RGB: PLTE entries, then grey (i, i, i) as PIL's palettes start.</summary>
    private static byte[] MakeLut(byte[] data, Header header, string? name)
    {
        var lut = new byte[256 * 3];
        int scale = header.ColorType == 0 ? 255 / ((1 << header.BitDepth) - 1) : 1;
        for (int i = 0; i < 256; i++)
        {
            byte v = (byte)Math.Min(255, i * scale);
            lut[3 * i] = v;
            lut[(3 * i) + 1] = v;
            lut[(3 * i) + 2] = v;
        }

        if (header.ColorType == 3 && header.PaletteOffset >= 0)
        {
            if (header.PaletteLength > 256 * 3)
            {
                throw new ImageDecodeException(name, "a PLTE chunk of at most 256 entries", $"{header.PaletteLength} bytes");
            }

            int entries = header.PaletteLength / 3;
            data.AsSpan(header.PaletteOffset, entries * 3).CopyTo(lut);
        }

        return lut;
    }

    /// <summary>Whether <paramref name="filled"/> bytes of filtered data end on a row boundary (of a pass, for Adam7).</summary>
    private static bool EndsOnRow(long filled, long width, long height, int bitsPerPixel, bool interlaced)
    {
        for (int pass = 0; pass < (interlaced ? 7 : 1); pass++)
        {
            (long x0, long y0, long dx, long dy) = interlaced ? (Adam7[4 * pass], Adam7[(4 * pass) + 1], Adam7[(4 * pass) + 2], Adam7[(4 * pass) + 3]) : (0, 0, 1, 1);
            long pw = width > x0 ? (width - x0 + dx - 1) / dx : 0;
            long ph = height > y0 ? (height - y0 + dy - 1) / dy : 0;
            if (pw == 0 || ph == 0)
            {
                continue;
            }

            long row = 1 + (((pw * bitsPerPixel) + 7) / 8);
            if (filled <= ph * row)
            {
                return filled % row == 0;
            }

            filled -= ph * row;
        }

        return true;
    }

    private static void Inflate(byte[] data, int firstIdat, byte[] raw, Func<long, bool> endsOnRow, string? name)
    {
        int filled = 0;
        long extra = 0;
        using var idat = new IdatStream(data, firstIdat);
        try
        {
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            while (filled < raw.Length)
            {
                int n = zlib.Read(raw, filled, raw.Length - filled);
                if (n == 0)
                {
                    break;
                }

                filled += n;
            }

            if (filled == raw.Length)
            {
                // Look for the end of the stream, inflating at most InflateSlack bytes more.
                Span<byte> scratch = stackalloc byte[4096];
                try
                {
                    while (extra <= InflateSlack)
                    {
                        int n = zlib.Read(scratch);
                        if (n == 0)
                        {
                            break;
                        }

                        extra += n;
                    }
                }
                catch (InvalidDataException) when (idat.Exhausted)
                {
                    // The stream stops after the image data without its end (e.g. no Adler-32): PIL never reads that far.
                }
            }
        }
        catch (InvalidDataException ex)
        {
            throw idat.Exhausted
                ? new ImageDecodeException(name, $"{raw.Length} bytes of image data in the IDAT chunks' zlib stream", $"a truncated PNG: the data ends after {filled} bytes", ex)
                : new ImageDecodeException(name, "a valid zlib stream in the IDAT chunks", $"corrupt compressed data after {filled + extra} decompressed bytes ({ex.Message})", ex);
        }

        // A stream that ends properly (not for want of IDAT data) after a whole row: PIL's zip decoder stops there and
        // leaves the rest of the image zero, as the raw buffer is here (filter 0, samples 0: black, or palette entry 0).
        if (filled < raw.Length && (filled == 0 || idat.Exhausted || !endsOnRow(filled)))
        {
            throw new ImageDecodeException(name, $"{raw.Length} bytes of image data in the IDAT chunks' zlib stream", $"a truncated PNG: the data ends after {filled} bytes");
        }

        if (extra > InflateSlack)
        {
            throw new ImageDecodeException(name, $"a zlib stream that ends after the {raw.Length} bytes of image data", $"more than {InflateSlack} further bytes (a decompression bomb or corrupt data)");
        }
    }

    /// <summary>Undoes the row filters of one pass (<paramref name="rows"/> rows of <paramref name="pixels"/> pixels) in place.</summary>
    // Hot loops run once per image: compile them optimised at once rather than through tier 0 (seconds on large images).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Unfilter(byte[] raw, ref int offset, int pixels, int rows, int bitsPerPixel, int bpp, string? name)
    {
        int rowBytes = (int)((((long)pixels * bitsPerPixel) + 7) / 8);
        int prior = -1;
        for (int y = 0; y < rows; y++)
        {
            int filter = raw[offset];
            var row = raw.AsSpan(offset + 1, rowBytes);
            ReadOnlySpan<byte> up = prior >= 0 ? raw.AsSpan(prior, rowBytes) : ReadOnlySpan<byte>.Empty;
            switch (filter)
            {
                case 0:
                    break;
                case 1:
                    for (int i = bpp; i < row.Length; i++)
                    {
                        row[i] += row[i - bpp];
                    }

                    break;
                case 2:
                    if (!up.IsEmpty)
                    {
                        for (int i = 0; i < row.Length; i++)
                        {
                            row[i] += up[i];
                        }
                    }

                    break;
                case 3:
                    for (int i = 0; i < row.Length; i++)
                    {
                        int left = i >= bpp ? row[i - bpp] : 0;
                        int above = up.IsEmpty ? 0 : up[i];
                        row[i] += (byte)((left + above) >> 1);
                    }

                    break;
                case 4:
                    for (int i = 0; i < row.Length; i++)
                    {
                        int a = i >= bpp ? row[i - bpp] : 0;
                        int b = up.IsEmpty ? 0 : up[i];
                        int c = i >= bpp && !up.IsEmpty ? up[i - bpp] : 0;
                        row[i] += (byte)Paeth(a, b, c);
                    }

                    break;
                default:
                    throw new ImageDecodeException(name, "a PNG row filter type 0 to 4", $"filter type {filter} at row {y}");
            }

            prior = offset + 1;
            offset += 1 + rowBytes;
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>
    /// Converts one pass's unfiltered rows (from <paramref name="start"/>) to RGB pixels at
    /// (<paramref name="x0"/> + i·<paramref name="dx"/>, <paramref name="y0"/> + r·<paramref name="dy"/>).
    /// </summary>
    // Hot loops run once per image: compile them optimised at once rather than through tier 0 (seconds on large images).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertPass(byte[] raw, int start, Header header, byte[]? lut, byte[] rgb, int pixels, int rows, int x0, int y0, int dx, int dy, int imageWidth = -1)
    {
        if (imageWidth < 0)
        {
            imageWidth = pixels;
        }

        int depth = header.BitDepth;
        int channels = header.ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int rowBytes = (int)((((long)pixels * channels * depth) + 7) / 8);
        int sampleBytes = depth / 8;
        int pixelBytes = channels * sampleBytes;
        bool colour = header.ColorType is 2 or 6;
        int gOff = colour ? sampleBytes : 0, bOff = colour ? 2 * sampleBytes : 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<byte> row = raw.AsSpan(start + (r * (1 + rowBytes)) + 1, rowBytes);
            int o = ((((y0 + (r * dy)) * imageWidth) + x0) * 3);
            int step = 3 * dx;
            if (lut is not null)
            {
                // Palette indices, or grey of 1..8 bits through the scaling table.
                int mask = (1 << depth) - 1;
                for (int i = 0; i < pixels; i++, o += step)
                {
                    int bit = i * depth;
                    int v = depth == 8 ? row[i] : (row[bit >> 3] >> (8 - depth - (bit & 7))) & mask;
                    rgb[o] = lut[3 * v];
                    rgb[o + 1] = lut[(3 * v) + 1];
                    rgb[o + 2] = lut[(3 * v) + 2];
                }
            }
            else if (header.ColorType == 0)
            {
                // 16-bit grey: PIL's mode I, clamped to 0..255 by convert("RGB").
                for (int i = 0; i < pixels; i++, o += step)
                {
                    int v = (row[2 * i] << 8) | row[(2 * i) + 1];
                    byte g = v > 255 ? (byte)255 : (byte)v;
                    rgb[o] = g;
                    rgb[o + 1] = g;
                    rgb[o + 2] = g;
                }
            }
            else
            {
                // RGB, grey+alpha, RGBA at 8 or 16 bits: the (high) byte of each colour sample; alpha dropped.
                for (int i = 0, p = 0; i < pixels; i++, o += step, p += pixelBytes)
                {
                    rgb[o] = row[p];
                    rgb[o + 1] = row[p + gOff];
                    rgb[o + 2] = row[p + bOff];
                }
            }
        }
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    /// <summary>
    /// The data of consecutive IDAT chunks as one stream, read lazily. CRCs are skipped (PIL does not verify them);
    /// a chunk that is not IDAT, an incomplete chunk header or the end of the file ends the stream (never an exception:
    /// the inflater then reports truncated data if it needed more).
    /// </summary>
    private sealed class IdatStream : Stream
    {
        private readonly byte[] _data;
        private int _pos;
        private int _remaining;
        private long _chunkEnd;

        public IdatStream(byte[] data, int chunk)
        {
            _data = data;
            Open(chunk);
        }

        /// <summary>True once a read found no more image data.</summary>
        public bool Exhausted { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }

            while (_remaining == 0)
            {
                if (!Next())
                {
                    Exhausted = true;
                    return 0;
                }
            }

            int n = Math.Min(buffer.Length, _remaining);
            _data.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            _remaining -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private void Open(int chunk)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan(chunk));
            _pos = chunk + 8;
            _chunkEnd = _pos + length;
            _remaining = (int)Math.Min(length, _data.Length - _pos);
        }

        private bool Next()
        {
            long next = _chunkEnd + 4; // skip the CRC, unverified as in PIL
            if (next > _data.Length - 8 || !_data.AsSpan((int)next + 4, 4).SequenceEqual("IDAT"u8))
            {
                return false;
            }

            Open((int)next);
            return true;
        }
    }
}
