using System;
using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>
/// GIF decoder (first frame), written here rather than borrowed: stb_image (the previous decoder) allocated
/// its canvas in native memory from the logical screen size alone (a 35-byte file took 890 MB), and the BCL has no
/// GIF decoder. The block walk, the LZW decoder (<see cref="GifLzw"/>) and the colour rules are PIL's.
/// </summary>
/// <remarks>
/// <para>Behaviour follows PIL 9.4.0 (<c>GifImagePlugin.py</c>, <c>GifDecode.c</c>) with its default loading
/// strategy (the first frame is a P image); each rule was checked by running python3-pil 9.4.0 on hand-made
/// files:</para>
/// <list type="bullet">
/// <item>The image size is the logical screen size, grown to contain the first frame's rectangle when the frame
/// reaches past it (PIL enlarges <c>size</c> the same way). The size is checked against the budget before anything
/// is allocated; the frame is decoded straight into the RGB output through a 256-colour table, so the output is the
/// only buffer that scales with the image.</item>
/// <item>Pixels outside the frame take the colour of the transparent index when a graphic control extension before
/// the frame set one, else of index 0. Transparency is otherwise ignored (a transparent pixel shows its palette
/// colour) and the background colour is not used. Of several graphic control extensions, the last one whose
/// transparency flag is set gives the index (a later one without the flag does not clear it).</item>
/// <item>Palette: the local colour table unless it is absent or the identity grey ramp (entry i = (i, i, i)), then
/// the global table under the same condition; without either, pixels are grey (i, i, i). An index past the chosen
/// table is grey (i, i, i) too, because PIL's palettes start as a grey ramp.</item>
/// <item>Blocks: extensions are skipped sub-block by sub-block, unknown bytes between blocks are skipped one at a
/// time (PIL ignores them), the trailer or the end of the file before an image descriptor is an error. A graphic
/// control extension whose first sub-block is empty, or shorter than 3 bytes (4 with the transparency flag), is an
/// error, as it is in PIL.</item>
/// <item>LZW: minimum code sizes 0 to 12 as in PIL (above 12 is an error); see <see cref="GifLzw"/>. A frame is
/// decoded when all its pixels are; whatever follows is not read. An end code, an empty sub-block, a sub-block cut
/// by the end of the file, or the end of the file before the last pixel is truncated data: PIL (without
/// <c>LOAD_TRUNCATED_IMAGES</c>) raises "image file is truncated" for files that reach its decoder in one read.
/// A frame of zero width or height is refused likewise.</item>
/// <item>Interlaced frames are de-interlaced (rows 0, 8, …; 4, 12, …; 2, 6, …; 1, 3, …).</item>
/// </list>
/// </remarks>
internal static class GifDecoder
{
    private const string Format = "GIF";

    /// <summary>Decodes <paramref name="data"/> (a whole GIF file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        if (data.Length < 13)
        {
            throw Codec.Truncated(name, Format, "a complete logical screen descriptor", 6, data.Length);
        }

        int screenWidth = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(6));
        int screenHeight = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8));
        byte flags = data[10];
        int pos = 13;
        int globalOffset = -1, globalEntries = 0;
        if ((flags & 0x80) != 0)
        {
            globalEntries = 2 << (flags & 7);
            globalOffset = pos;
            pos += 3 * globalEntries;
        }

        int transparent = -1;
        while (true)
        {
            if (pos >= data.Length || data[pos] == 0x3B)
            {
                throw new ImageDecodeException(name, "an image descriptor for the first GIF frame", pos >= data.Length ? $"the end of the data at byte {data.Length}" : $"the trailer at byte {pos}");
            }

            byte block = data[pos++];
            if (block == 0x21)
            {
                if (pos >= data.Length)
                {
                    throw Codec.Truncated(name, Format, "an extension label", pos, data.Length);
                }

                byte label = data[pos++];
                if (label == 0xF9)
                {
                    // Graphic control extension: PIL reads the first sub-block's flags, delay and transparent index.
                    int size = pos < data.Length ? data[pos] : 0;
                    int available = Math.Min(size, data.Length - pos - 1);
                    bool hasTransparency = available >= 1 && (data[pos + 1] & 1) != 0;
                    if (available < (hasTransparency ? 4 : 3))
                    {
                        throw new ImageDecodeException(name, "a graphic control extension of 4 bytes", $"{available} bytes at byte {pos}");
                    }

                    if (hasTransparency)
                    {
                        transparent = data[pos + 4];
                    }
                }

                pos = SkipSubBlocks(data, pos);
            }
            else if (block == 0x2C)
            {
                return DecodeFrame(data, pos, name, options, screenWidth, screenHeight, globalOffset, globalEntries, transparent);
            }

            // Any other byte is skipped, as PIL skips it.
        }
    }

    private static RgbImage DecodeFrame(
        byte[] data, int pos, string? name, ImageDecodeOptions options, int screenWidth, int screenHeight, int globalOffset, int globalEntries, int transparent)
    {
        if (pos + 9 > data.Length)
        {
            throw Codec.Truncated(name, Format, "a complete image descriptor", pos, data.Length);
        }

        int left = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(pos));
        int top = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(pos + 2));
        int frameWidth = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(pos + 4));
        int frameHeight = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(pos + 6));
        byte imageFlags = data[pos + 8];
        pos += 9;
        int localOffset = -1, localEntries = 0;
        if ((imageFlags & 0x80) != 0)
        {
            localEntries = 2 << (imageFlags & 7);
            localOffset = pos;
            pos += 3 * localEntries;
        }

        if (pos >= data.Length)
        {
            throw Codec.Truncated(name, Format, "the colour table and LZW code size of the first frame", pos, data.Length);
        }

        // PIL grows the image to hold a frame that reaches past the logical screen.
        long width = Math.Max(screenWidth, left + frameWidth), height = Math.Max(screenHeight, top + frameHeight);
        Codec.CheckSize(name, Format, options, width, height, Codec.RgbBytes(width, height));
        if (frameWidth == 0 || frameHeight == 0)
        {
            throw new ImageDecodeException(name, "a GIF frame with pixels", $"a {frameWidth}×{frameHeight} frame");
        }

        int minCodeSize = data[pos++];
        if (minCodeSize > 12)
        {
            throw new ImageDecodeException(name, "an LZW minimum code size of at most 12", $"{minCodeSize}");
        }

        byte[] lut = MakeLut(data, localOffset, localEntries, globalOffset, globalEntries);
        var image = new RgbImage((int)width, (int)height);
        byte[] rgb = image.Pixels;
        int fill = transparent >= 0 ? transparent : 0;
        lut.AsSpan(3 * fill, 3).CopyTo(rgb);
        for (int done = 3; done < rgb.Length; done *= 2)
        {
            rgb.AsSpan(0, Math.Min(done, rgb.Length - done)).CopyTo(rgb.AsSpan(done));
        }

        var sink = new FrameSink(rgb, lut, (int)width, left, top, frameWidth, frameHeight, (imageFlags & 0x40) != 0);
        GifLzw.Result result = GifLzw.Decode(data, pos, minCodeSize, ref sink);
        switch (result)
        {
            case GifLzw.Result.Complete:
                return image;
            case GifLzw.Result.InvalidCode:
                throw new ImageDecodeException(name, "valid LZW codes in the first GIF frame", $"an undefined code after {sink.Written} of {(long)frameWidth * frameHeight} pixels");
            case GifLzw.Result.EndCode:
                throw new ImageDecodeException(name, $"{(long)frameWidth * frameHeight} pixels in the first GIF frame", $"the LZW end code after {sink.Written} pixels (a truncated image)");
            default:
                throw new ImageDecodeException(name, $"{(long)frameWidth * frameHeight} pixels in the first GIF frame", $"a truncated GIF: the image data ends after {sink.Written} pixels");
        }
    }

    /// <summary>Index to RGB, PIL-style (see the class remarks).</summary>
    private static byte[] MakeLut(byte[] data, int localOffset, int localEntries, int globalOffset, int globalEntries)
    {
        var lut = new byte[256 * 3];
        for (int i = 0; i < 256; i++)
        {
            lut[3 * i] = (byte)i;
            lut[(3 * i) + 1] = (byte)i;
            lut[(3 * i) + 2] = (byte)i;
        }

        int offset = -1, entries = 0;
        if (localOffset >= 0 && !IsGreyRamp(data.AsSpan(localOffset, 3 * localEntries)))
        {
            (offset, entries) = (localOffset, localEntries);
        }
        else if (globalOffset >= 0 && !IsGreyRamp(data.AsSpan(globalOffset, 3 * globalEntries)))
        {
            (offset, entries) = (globalOffset, globalEntries);
        }

        if (offset >= 0)
        {
            data.AsSpan(offset, 3 * entries).CopyTo(lut);
        }

        return lut;
    }

    /// <summary>PIL's <c>_is_palette_needed</c> is false: entry i is (i, i, i) throughout.</summary>
    private static bool IsGreyRamp(ReadOnlySpan<byte> table)
    {
        for (int i = 0; i < table.Length; i++)
        {
            if (table[i] != i / 3)
            {
                return false;
            }
        }

        return true;
    }

    private static int SkipSubBlocks(byte[] data, int pos)
    {
        // As PIL's data(): the end of the file ends the chain quietly (the next block read then fails).
        while (pos < data.Length)
        {
            int size = data[pos++];
            if (size == 0)
            {
                return pos;
            }

            pos += size;
        }

        return data.Length;
    }

    /// <summary>Places decoded indices on the canvas in frame order, de-interlacing rows as GIF orders them.</summary>
    private struct FrameSink : GifLzw.IPixelSink
    {
        private readonly byte[] _rgb;
        private readonly byte[] _lut;
        private readonly int _imageWidth;
        private readonly int _left;
        private readonly int _top;
        private readonly int _width;
        private readonly int _height;
        private readonly bool _interlaced;
        private int _x;
        private int _y;
        private int _pass;
        private int _o;

        public FrameSink(byte[] rgb, byte[] lut, int imageWidth, int left, int top, int width, int height, bool interlaced)
        {
            _rgb = rgb;
            _lut = lut;
            _imageWidth = imageWidth;
            _left = left;
            _top = top;
            _width = width;
            _height = height;
            _interlaced = interlaced;
            Written = 0;
            _x = 0;
            _y = 0;
            _pass = 0;
            _o = RowStart();
        }

        public long Written { get; private set; }

        /// <summary>Writes the pixels of one code, row by row; returns false once the frame is complete.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Put(ReadOnlySpan<byte> indices)
        {
            byte[] lut = _lut;
            while (!indices.IsEmpty)
            {
                int n = Math.Min(indices.Length, _width - _x);
                Span<byte> output = _rgb.AsSpan(_o, 3 * n);
                for (int i = 0; i < n; i++)
                {
                    int c = 3 * indices[i];
                    output[3 * i] = lut[c];
                    output[(3 * i) + 1] = lut[c + 1];
                    output[(3 * i) + 2] = lut[c + 2];
                }

                _o += 3 * n;
                _x += n;
                Written += n;
                indices = indices[n..];
                if (_x == _width)
                {
                    _x = 0;
                    if (!NextRow())
                    {
                        return false;
                    }
                }
            }

            return true;
        }

        private bool NextRow()
        {
            if (!_interlaced)
            {
                _y++;
            }
            else
            {
                // Passes start at rows 0, 4, 2, 1 with steps 8, 8, 4, 2; empty passes are skipped.
                _y += _pass <= 1 ? 8 : _pass == 2 ? 4 : 2;
                while (_y >= _height && _pass < 3)
                {
                    _pass++;
                    _y = _pass == 1 ? 4 : _pass == 2 ? 2 : 1;
                }
            }

            if (_y >= _height)
            {
                return false;
            }

            _o = RowStart();
            return true;
        }

        private readonly int RowStart() => (((_top + _y) * _imageWidth) + _left) * 3;
    }
}
