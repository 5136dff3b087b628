using System;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>
/// JPEG: a port of the behaviour of libjpeg-turbo 2.1.5 as PIL 9.4 drives it (<c>Image.open(f).convert("RGB")</c> on
/// Debian 12), so that the pixels are byte-identical to what Hugging Face's image processors see.
/// </summary>
/// <remarks>
/// <para>Why a port: no managed decoder reproduces libjpeg's arithmetic (StbImageSharp is up to 3 levels off and unsafe
/// on corrupt files; BitMiracle.LibJpeg.NET 1.5.324 was measured 33 levels off), and the model's preprocessing is only
/// exact if the decoded pixels are. The C# here is written from what the libjpeg-turbo sources do, not translated line by
/// line: jdmarker.c (markers, with PIL's own parser's rejections before the first scan), jdhuff.c / jdphuff.c (Huffman
/// decoding, restart resynchronisation, libjpeg's answers to corrupt data), jdcoefct.c (single- and multi-scan
/// coefficient handling, block smoothing of incomplete progressive files), jidctint.c and its SSE2/AVX2 versions (JDCT_ISLOW
/// as PIL runs it on amd64: the SIMD code, which differs from the C on out-of-range coefficients), jdsample.c (fancy
/// upsampling, which libjpeg-turbo 2.1 keeps separate from colour conversion: merged upsampling only without it),
/// jdcolor.c (fixed-point YCbCr, YCCK), and PIL's JpegDecode.c, Unpack.c (CMYK;I) and Convert.c (cmyk2rgb).</para>
/// <para>Supported: baseline and extended sequential (SOF0/SOF1, 8-bit) and progressive (SOF2) Huffman JPEGs, one or
/// several scans, any component subset per scan, restart intervals, 1 (grey), 3 (YCbCr, or RGB by the Adobe marker or
/// the component ids) or 4 components (CMYK, YCCK: PIL opens them as inverted CMYK and converts with its own formula),
/// sampling factors 1..4 with integral ratios. Rejected as unsupported (PIL rejects them too): arithmetic coding,
/// lossless and hierarchical JPEGs, 12-bit samples, 2 or more than 4 components, fractional sampling ratios.</para>
/// <para>Corrupt data: where libjpeg stops with an error, so does this decoder (<see cref="ImageDecodeException"/>);
/// where libjpeg warns and carries on (a bad Huffman code, a scan cut short by a marker, missing or misnumbered restart
/// markers, garbage between segments) this decoder does the same thing with the same pixels. A file that ends before
/// its data does is truncated (libjpeg suspends and PIL raises "image file is truncated") — except a single-scan image
/// whose rows were all output first, which PIL accepts; to draw that line where PIL does, segments are read field by
/// field as jdmarker.c reads them and the entropy decoder reads ahead exactly as far as jdhuff.c's fast and slow bit
/// readers do, given PIL's 64 KiB reads. Deliberately not like PIL: a sequential image with a component no scan covers
/// is rejected (libjpeg shows it mid-grey), as is a file whose scans revisit the image far more often than any encoder
/// does (a decompression-time bomb), and PIL's parsing of EXIF data is not reproduced.</para>
/// </remarks>
internal static class JpegDecoder
{
    /// <summary>Decodes <paramref name="data"/> (a whole JPEG file) into RGB, checking the frame size against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options) => new JpegReader(data, name, options).Decode();
}

/// <summary>One component of the frame, with its geometry, latched quantisation table and buffers.</summary>
internal sealed class JpegComponent
{
    public int Index;
    public int Id;
    public int H;
    public int V;
    public int QuantTableNumber;

    /// <summary>Blocks that hold image samples (jdinput.c width_in_blocks / height_in_blocks).</summary>
    public int WidthInBlocks;
    public int HeightInBlocks;

    /// <summary>Coefficient array size: blocks rounded up to whole MCUs (dummy blocks of interleaved scans included).</summary>
    public int BlocksPerLine;
    public int BlockRows;

    /// <summary>Samples of the component that belong to the image (jdinput.c downsampled_width / height).</summary>
    public int DownsampledWidth;
    public int DownsampledHeight;

    /// <summary>The quantisation table latched at the first scan of the component (natural order, raw values).</summary>
    public ushort[]? Quant;

    /// <summary><see cref="Quant"/> as libjpeg-turbo's IDCT multiplies with it: a 16-bit signed multiplier.</summary>
    public int[]? IdctQuant;

    public short[]? Coefficients;

    /// <summary>Samples after the IDCT: a ring of three iMCU rows (the rows being output and their neighbours above and
    /// below, which fancy upsampling reads), <see cref="RingRows"/> rows of <see cref="PlaneStride"/> bytes.</summary>
    public byte[]? Plane;
    public int PlaneStride;
    public int RingRows;

    /// <summary>Offset in <see cref="Plane"/> of sample row <paramref name="y"/> (which must still be in the ring).</summary>
    public int RowOffset(int y) => y % RingRows * PlaneStride;
    public bool Covered;
    public int DcTable;
    public int AcTable;
    public JpegDerivedTable? DcDerived;
    public JpegDerivedTable? AcDerived;
}

/// <summary>The colour space libjpeg assumes for the file (jdapimin.c default_decompress_parms).</summary>
internal enum JpegColorSpace
{
    Grayscale,
    YCbCr,
    Rgb,
    Cmyk,
    Ycck,
}

/// <summary>The decoding of one JPEG file: marker parsing and scan control (this file), entropy decoding
/// (JpegEntropy.cs) and sample output (JpegOutput.cs).</summary>
internal sealed partial class JpegReader
{
    // libjpeg's limits: JPEG_MAX_DIMENSION, D_MAX_BLOCKS_IN_MCU, MAX_COMPS_IN_SCAN.
    private const int MaxDimension = 65500;
    private const int MaxBlocksInMcu = 10;
    private const int MaxScans = 1000;

    private const string Format = "JPEG";

    private readonly byte[] _data;
    private readonly string? _name;
    private readonly ImageDecodeOptions _options;
    private int _pos;

    private readonly ushort[]?[] _quantTables = new ushort[4][];
    private readonly JpegHuffmanTable?[] _dcTables = new JpegHuffmanTable?[4];
    private readonly JpegHuffmanTable?[] _acTables = new JpegHuffmanTable?[4];
    private int _restartInterval;
    private bool _sawJfif;
    private bool _sawAdobe;
    private int _adobeTransform;

    private bool _sawSof;
    private bool _progressive;
    private int _width;
    private int _height;
    private JpegComponent[] _components = [];
    private int _maxH;
    private int _maxV;
    private int _totalIMcuRows;
    private bool _started;
    private bool _multiScan;
    private bool _outputDone;
    private bool _truncated;
    private int _scanNumber;
    private long _blockVisits;
    private long _blockVisitBudget;
    private JpegColorSpace _colorSpace;
    private RgbImage? _image;

    /// <summary>libjpeg's coef_bits: per component, the Al of the last scan of each coefficient (−1 = none yet); then
    /// the same before the latest scan (prev_coef_bits, used by block smoothing).</summary>
    private int[] _coefBits = [];
    private int _lastGoodIMcuRow;

    public JpegReader(byte[] data, string? name, ImageDecodeOptions options)
    {
        _data = data;
        _name = name;
        _options = options;
    }

    public RgbImage Decode()
    {
        // ImageDecoder routes data starting FF D8 FF here; libjpeg's first_marker insists on SOI with nothing before it.
        if (_data.Length < 2 || _data[0] != 0xFF || _data[1] != 0xD8)
        {
            throw new ImageDecodeException(_name, "a JPEG file starting with the SOI marker (FF D8)", "other data");
        }

        _pos = 2;
        while (true)
        {
            int marker;
            if (_unreadMarker != 0)
            {
                marker = _unreadMarker;
                _unreadMarker = 0;
            }
            else if (!TryNextMarker(out marker))
            {
                // PIL accepts a single-scan image whose every row was decoded before the data ran out; anything else
                // is a truncated file (libjpeg suspends waiting for data, PIL raises "image file is truncated").
                if (_outputDone)
                {
                    return _image!;
                }

                throw Truncated(_started ? "more scans or the EOI marker" : "a complete JPEG header", _pos, _data.Length);
            }

            if (marker == 0xD9)
            {
                return Finish();
            }

            try
            {
                ProcessMarker(marker);
            }
            catch (ImageDecodeException) when (_truncated && _outputDone)
            {
                // Likewise for a segment cut short after the single scan (libjpeg suspends inside it, PIL is done).
                return _image!;
            }
        }
    }

    /// <summary>The data ends before <paramref name="expected"/>: libjpeg would suspend for more input (PIL: truncated).</summary>
    private ImageDecodeException Truncated(string expected, int at, int length)
    {
        _truncated = true;
        return Codec.Truncated(_name, Format, expected, at, length);
    }

    /// <summary>Skips to the next marker like libjpeg's next_marker: bytes other than 0xFF are skipped (with a warning in
    /// libjpeg), fill bytes 0xFF are swallowed and a stuffed FF 00 pair is not a marker.</summary>
    private bool TryNextMarker(out int marker)
    {
        byte[] data = _data;
        int pos = _pos;
        while (true)
        {
            while (pos < data.Length && data[pos] != 0xFF)
            {
                pos++;
            }

            while (pos < data.Length && data[pos] == 0xFF)
            {
                pos++;
            }

            if (pos >= data.Length)
            {
                _pos = data.Length;
                marker = 0;
                return false;
            }

            int c = data[pos++];
            if (c != 0)
            {
                _pos = pos;
                marker = c;
                return true;
            }
        }
    }

    private void ProcessMarker(int marker)
    {
        switch (marker)
        {
            case 0xC0:
            case 0xC1:
            case 0xC2:
                ReadFrameHeader(marker);
                break;
            case 0xC9 or 0xCA when _sawSof:
                ReadFrameHeader(marker); // libjpeg decodes arithmetic JPEGs: a second SOF of that kind is a duplicate frame
                break;
            case 0xC9:
            case 0xCA:
                throw new UnsupportedImageFormatException(_name, "a Huffman-coded JPEG (baseline, extended or progressive)", $"an arithmetic-coded JPEG (SOF 0xFF{marker:X2})");
            case 0xC3:
            case 0xC5:
            case 0xC6:
            case 0xC7:
            case 0xC8:
            case 0xCB:
            case 0xCD:
            case 0xCE:
            case 0xCF:
                throw new UnsupportedImageFormatException(
                    _name,
                    "a baseline, extended or progressive DCT JPEG",
                    $"a {(marker is 0xC3 or 0xCB ? "lossless" : marker == 0xC8 ? "JPEG-extension" : "hierarchical (differential)")} JPEG (SOF 0xFF{marker:X2})");
            case 0xC4:
                ReadHuffmanTables();
                break;
            case 0xCC:
                ReadArithmeticConditioning();
                break;
            case 0xD8:
                throw new ImageDecodeException(_name, "one SOI marker at the start of the JPEG", $"a second SOI marker at byte {_pos - 2}");
            case 0xDA:
                ReadScan();
                break;
            case 0xDB:
                ReadQuantisationTables();
                break;
            case 0xDD:
                ReadRestartInterval();
                break;
            case 0xDC:
                SkipSegment(marker);
                break;
            case 0xE0:
            case 0xEE:
                ReadInterestingAppSegment(marker);
                break;
            case >= 0xE1 and <= 0xEF:
            case 0xFE:
                SkipSegment(marker);
                break;
            case >= 0xD0 and <= 0xD7:
                break; // A stray RSTn between segments: parameterless, libjpeg only traces it.
            case 0x01 when _started:
                break; // TEM, likewise (PIL's own marker parser rejects it before the first scan).
            default:
                throw new ImageDecodeException(_name, "a known JPEG marker", $"marker 0xFF{marker:X2} at byte {_pos - 2}");
        }
    }

    // Segments are read the way jdmarker.c reads them: field by field, each check made as soon as its fields are in,
    // so that a file cut short inside a segment is truncated (libjpeg suspends) exactly when libjpeg would find it so,
    // and a bad field is an error even when the rest of the segment is missing.

    /// <summary>The next byte of a marker segment (INPUT_BYTE); the end of the file is a truncation.</summary>
    private int NextByte(int marker)
    {
        if (_pos >= _data.Length)
        {
            throw Truncated($"the rest of the 0xFF{marker:X2} segment", _pos, _data.Length);
        }

        return _data[_pos++];
    }

    /// <summary>A big-endian 16-bit field (INPUT_2BYTES).</summary>
    private int NextWord(int marker) => (NextByte(marker) << 8) | NextByte(marker);

    /// <summary>skip_input_data: <paramref name="count"/> bytes that must be in the file.</summary>
    private void Skip(int marker, int count)
    {
        if (count > _data.Length - _pos)
        {
            throw Truncated($"the whole 0xFF{marker:X2} segment ({count} more bytes)", _data.Length, _data.Length);
        }

        _pos += count;
    }

    /// <summary>APPn (other than APP0/APP14), COM and DNL (jdmarker.c skip_variable): a length below 2 skips nothing.</summary>
    private void SkipSegment(int marker)
    {
        int length = NextWord(marker) - 2;
        if (length > 0)
        {
            Skip(marker, length);
        }
    }

    /// <summary>APP0 (JFIF) and APP14 (Adobe) decide the colour space (jdmarker.c get_interesting_appn,
    /// examine_app0/examine_app14: only the first 14 bytes are looked at).</summary>
    private void ReadInterestingAppSegment(int marker)
    {
        int length = NextWord(marker) - 2;
        int count = Math.Clamp(length, 0, 14);
        Span<byte> head = stackalloc byte[14];
        for (int i = 0; i < count; i++)
        {
            head[i] = (byte)NextByte(marker);
        }

        head = head[..count];
        if (marker == 0xE0 && count >= 14 && head.StartsWith("JFIF\0"u8))
        {
            _sawJfif = true;
        }
        else if (marker == 0xEE && count >= 12 && head.StartsWith("Adobe"u8))
        {
            _sawAdobe = true;
            _adobeTransform = head[11];
        }

        if (length > count)
        {
            Skip(marker, length - count);
        }
    }

    private void ReadRestartInterval()
    {
        int at = _pos - 2;
        int length = NextWord(0xDD);
        if (length != 4)
        {
            throw new ImageDecodeException(_name, "a DRI segment of length 4", $"length {length} at byte {at}");
        }

        _restartInterval = NextWord(0xDD);
    }

    /// <summary>DAC: arithmetic-coding conditioning. Parsed and checked as libjpeg does, even in a Huffman file.</summary>
    private void ReadArithmeticConditioning()
    {
        int length = NextWord(0xCC) - 2;
        while (length > 0)
        {
            int index = NextByte(0xCC), value = NextByte(0xCC);
            length -= 2;
            if (index >= 32 || (index < 16 && (value & 0x0F) > (value >> 4)))
            {
                throw new ImageDecodeException(_name, "valid arithmetic-coding conditioning (DAC)", $"table {index} with value {value}");
            }
        }

        if (length != 0)
        {
            throw new ImageDecodeException(_name, "a DAC segment made of 2-byte entries", "a segment of odd length");
        }
    }

    /// <summary>DQT: one or more tables, 8- or 16-bit, stored in natural order (jdmarker.c get_dqt).</summary>
    private void ReadQuantisationTables()
    {
        int at = _pos - 2;
        int length = NextWord(0xDB);
        if (length < 2)
        {
            throw new ImageDecodeException(_name, "a segment length of at least 2 for marker 0xFFDB", $"{length} at byte {at}");
        }

        length -= 2;
        while (length > 0)
        {
            int n = NextByte(0xDB);
            int pq = n >> 4, tq = n & 15;
            if (tq >= 4)
            {
                throw new ImageDecodeException(_name, "a quantisation table number 0..3", $"table {tq} in the DQT segment at byte {at}");
            }

            var table = _quantTables[tq] ??= new ushort[64];
            for (int i = 0; i < 64; i++)
            {
                table[JpegTables.NaturalOrder[i]] = (ushort)(pq != 0 ? NextWord(0xDB) : NextByte(0xDB));
            }

            length -= pq != 0 ? 129 : 65;
        }

        if (length != 0)
        {
            throw new ImageDecodeException(_name, "a DQT segment holding whole tables", $"a segment that does not end with a table at byte {at}");
        }
    }

    /// <summary>DHT: one or more tables; only counts are checked here, the code itself when a scan uses it (as libjpeg).</summary>
    private void ReadHuffmanTables()
    {
        int at = _pos - 2;
        int length = NextWord(0xC4) - 2;
        while (length > 16)
        {
            int index = NextByte(0xC4);
            var table = new JpegHuffmanTable();
            int count = 0;
            for (int l = 1; l <= 16; l++)
            {
                table.Bits[l] = (byte)NextByte(0xC4);
                count += table.Bits[l];
            }

            length -= 17;
            if (count > 256 || count > length)
            {
                throw new ImageDecodeException(_name, "a Huffman table whose code counts fit the DHT segment (at most 256 codes)", $"{count} codes in the DHT segment at byte {at}");
            }

            for (int i = 0; i < count; i++)
            {
                table.Values[i] = (byte)NextByte(0xC4);
            }

            length -= count;
            bool ac = (index & 0x10) != 0;
            int slot = ac ? index - 0x10 : index;
            if (slot is < 0 or >= 4)
            {
                throw new ImageDecodeException(_name, "a Huffman table class 0/1 and number 0..3", $"table index 0x{index:X2} in the DHT segment at byte {at}");
            }

            (ac ? _acTables : _dcTables)[slot] = table;
        }

        if (length != 0)
        {
            throw new ImageDecodeException(_name, "a DHT segment made of whole tables", $"a segment length that does not match its tables at byte {at}");
        }
    }

    /// <summary>SOF0/1/2 (jdmarker.c get_sof, PIL's SOF handler and jdinput.c initial_setup checks), then the size check.</summary>
    private void ReadFrameHeader(int marker)
    {
        int at = _pos - 2;
        int length = NextWord(marker);
        int precision = NextByte(marker);
        int height = NextWord(marker);
        int width = NextWord(marker);
        int count = NextByte(marker);
        if (_sawSof)
        {
            throw new ImageDecodeException(_name, "one frame header (SOF) per JPEG", $"a second SOF marker 0xFF{marker:X2} at byte {at} ({width}×{height})");
        }

        if (height == 0 || width == 0 || count == 0)
        {
            throw new ImageDecodeException(_name, "a JPEG frame with positive width, height and component count", $"{width}×{height} with {count} components (DNL-defined heights are not supported)");
        }

        if (length != 8 + (3 * count))
        {
            throw new ImageDecodeException(_name, $"a frame header of {8 + (3 * count)} bytes for {count} components", $"length {length} at byte {at}");
        }

        if (precision != 8)
        {
            throw new UnsupportedImageFormatException(_name, "an 8-bit JPEG", $"{precision}-bit samples");
        }

        if (count is not (1 or 3 or 4))
        {
            throw new UnsupportedImageFormatException(_name, "a JPEG with 1, 3 or 4 components (PIL's L, RGB or CMYK)", $"{count} components");
        }

        if (width > MaxDimension || height > MaxDimension)
        {
            throw new ImageDecodeException(_name, $"a JPEG of at most {MaxDimension} pixels per side", $"{width}×{height}");
        }

        var components = new JpegComponent[count];
        int maxH = 1, maxV = 1;
        for (int i = 0; i < count; i++)
        {
            int id = NextByte(marker), factors = NextByte(marker), tq = NextByte(marker);
            var c = new JpegComponent { Index = i, Id = id, H = factors >> 4, V = factors & 15, QuantTableNumber = tq };
            components[i] = c;
        }

        foreach (var c in components)
        {
            if (c.H is < 1 or > 4 || c.V is < 1 or > 4)
            {
                throw new ImageDecodeException(_name, "sampling factors 1..4", $"{c.H}×{c.V} for component {c.Id}");
            }

            maxH = Math.Max(maxH, c.H);
            maxV = Math.Max(maxV, c.V);
        }

        // Component geometry (jdinput.c initial_setup) and the buffers it implies, checked before anything is allocated.
        long planes = 0, coefficients = 0;
        int iMcuRows = (int)CeilDiv(height, 8L * maxV);
        foreach (var c in components)
        {
            c.WidthInBlocks = (int)CeilDiv((long)width * c.H, 8L * maxH);
            c.HeightInBlocks = (int)CeilDiv((long)height * c.V, 8L * maxV);
            c.BlocksPerLine = (int)(CeilDiv(c.WidthInBlocks, c.H) * c.H);
            c.BlockRows = (int)(CeilDiv(c.HeightInBlocks, c.V) * c.V);
            c.DownsampledWidth = (int)CeilDiv((long)width * c.H, maxH);
            c.DownsampledHeight = (int)CeilDiv((long)height * c.V, maxV);
            c.PlaneStride = 8 * c.WidthInBlocks;
            c.RingRows = 8 * c.V * Math.Min(3, iMcuRows);
            planes += (long)c.PlaneStride * c.RingRows;
            coefficients += 128L * c.BlocksPerLine * c.BlockRows;
        }

        _sawSof = true;
        _progressive = marker == 0xC2;
        _width = width;
        _height = height;
        _components = components;
        _maxH = maxH;
        _maxV = maxV;
        _totalIMcuRows = iMcuRows;
        Codec.CheckSize(_name, Format, _options, width, height, DecodedBytes(planes, _progressive ? coefficients : 0));
        CheckArraySizes();
    }

    /// <summary>With limits raised past the defaults, a buffer could still exceed what one .NET array can hold.</summary>
    private void CheckArraySizes()
    {
        long largest = Codec.RgbBytes(_width, _height);
        foreach (var c in _components)
        {
            largest = Math.Max(largest, 64L * c.BlocksPerLine * c.BlockRows);
        }

        if (largest > Array.MaxLength)
        {
            throw new ImageTooLargeException(_name, _width, _height, largest, _options);
        }
    }

    /// <summary>Output RGB, the components' sample rings, one upsampled row per component, and coefficients when kept.</summary>
    private long DecodedBytes(long planes, long coefficients) =>
        Codec.RgbBytes(_width, _height) + planes + (_components.Length * ((long)_width + 64)) + coefficients;

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    /// <summary>SOS: the scan header (jdmarker.c get_sos), then the scan's entropy-coded data.</summary>
    private void ReadScan()
    {
        int at = _pos - 2;
        if (!_sawSof)
        {
            throw new ImageDecodeException(_name, "a frame header (SOF) before the first scan", $"a scan (SOS) at byte {at}");
        }

        int length = NextWord(0xDA);
        int n = NextByte(0xDA);
        if (length != (2 * n) + 6 || n is < 1 or > 4)
        {
            throw new ImageDecodeException(_name, "a scan header listing 1..4 components", $"{n} components in a segment of length {length} at byte {at}");
        }

        // Component lookup exactly as get_sos does it: among the first 4 components, the i-th scan component is looked
        // for from component index i on (libjpeg tests the scan slot of the candidate's own index), each used once.
        var scan = new JpegComponent[n];
        for (int i = 0; i < n; i++)
        {
            int id = NextByte(0xDA), tables = NextByte(0xDA);
            JpegComponent? found = null;
            for (int ci = i; ci < _components.Length && ci < 4; ci++)
            {
                if (_components[ci].Id == id)
                {
                    found = _components[ci];
                    break;
                }
            }

            if (found is null || Array.IndexOf(scan, found, 0, i) >= 0)
            {
                throw new ImageDecodeException(_name, "scan components that the frame header defines, each once and in frame order", $"component id {id} in the scan at byte {at}");
            }

            found.DcTable = tables >> 4;
            found.AcTable = tables & 15;
            scan[i] = found;
        }

        int ss = NextByte(0xDA), se = NextByte(0xDA), a = NextByte(0xDA);
        int ah = a >> 4, al = a & 15;
        _nextRestartNum = 0;
        _scanNumber++;
        if (_scanNumber > MaxScans)
        {
            throw new ImageDecodeException(_name, $"a JPEG with at most {MaxScans} scans", "more (a decompression-time bomb)");
        }

        if (!_started)
        {
            StartDecompression(scan);
        }
        else if (!_multiScan)
        {
            // jdinput.c: a second scan after one that covered every component of a sequential image is an error.
            throw new ImageDecodeException(_name, "the EOI marker after the single scan of a sequential JPEG", $"another scan at byte {at}");
        }

        DecodeScan(scan, ss, se, ah, al);
    }

    /// <summary>At the first scan: colour space, single- or multi-scan mode, and the buffers.</summary>
    private void StartDecompression(JpegComponent[] firstScan)
    {
        _started = true;
        _multiScan = _progressive || firstScan.Length < _components.Length;
        _colorSpace = _components.Length switch
        {
            1 => JpegColorSpace.Grayscale,
            3 when _sawJfif => JpegColorSpace.YCbCr,
            3 when _sawAdobe => _adobeTransform == 0 ? JpegColorSpace.Rgb : JpegColorSpace.YCbCr,
            3 => _components[0].Id == 'R' && _components[1].Id == 'G' && _components[2].Id == 'B' ? JpegColorSpace.Rgb : JpegColorSpace.YCbCr,
            _ => _sawAdobe && _adobeTransform == 0 ? JpegColorSpace.Cmyk : _sawAdobe ? JpegColorSpace.Ycck : JpegColorSpace.Cmyk,
        };

        // The upsampler for each component must exist before anything is decoded (jdsample.c: fractional ratios fail).
        foreach (var c in _components)
        {
            if (_maxH % c.H != 0 || _maxV % c.V != 0)
            {
                throw new UnsupportedImageFormatException(_name, "sampling factors in integral ratios", $"component {c.Id} sampled {c.H}×{c.V} against a maximum of {_maxH}×{_maxV}");
            }
        }

        long planes = 0, coefficients = 0, blocks = 0;
        foreach (var c in _components)
        {
            planes += (long)c.PlaneStride * c.RingRows;
            coefficients += 128L * c.BlocksPerLine * c.BlockRows;
            blocks += (long)c.BlocksPerLine * c.BlockRows;
        }

        if (_multiScan)
        {
            Codec.CheckSize(_name, Format, _options, _width, _height, DecodedBytes(planes, coefficients));
            foreach (var c in _components)
            {
                c.Coefficients = new short[64 * c.BlocksPerLine * c.BlockRows];
            }

            _coefBits = new int[2 * _components.Length * 64];
            _coefBits.AsSpan(0, _components.Length * 64).Fill(-1);
        }

        // Every scan visits each block of its components once; encoders send a few dozen scans, a bomb thousands.
        _blockVisitBudget = (256 * blocks) + 65536;
        foreach (var c in _components)
        {
            c.Plane = new byte[c.PlaneStride * c.RingRows];
        }

        // Sequential files may leave DC/AC tables 0 and 1 undefined: libjpeg-turbo then loads the standard tables.
        if (!_progressive)
        {
            _dcTables[0] ??= JpegHuffmanTable.StandardDcLuminance();
            _acTables[0] ??= JpegHuffmanTable.StandardAcLuminance();
            _dcTables[1] ??= JpegHuffmanTable.StandardDcChrominance();
            _acTables[1] ??= JpegHuffmanTable.StandardAcChrominance();
        }
    }

    /// <summary>EOI: a multi-scan image is output now; a single-scan one already was.</summary>
    private RgbImage Finish()
    {
        if (!_started)
        {
            throw new ImageDecodeException(_name, "a JPEG with a frame header and at least one scan", _sawSof ? "the EOI marker before any scan" : "the EOI marker before any frame header");
        }

        if (_outputDone)
        {
            return _image!;
        }

        // libjpeg would show an uncovered component of a sequential image as mid-grey; no encoder writes such a file.
        if (!_progressive)
        {
            foreach (var c in _components)
            {
                if (!c.Covered)
                {
                    throw new ImageDecodeException(_name, "scans that cover every component of the sequential JPEG", $"no scan for component {c.Id}");
                }
            }
        }

        OutputMultiScan();
        return _image!;
    }
}

/// <summary>Constant tables shared by the JPEG decoder.</summary>
internal static class JpegTables
{
    /// <summary>jutils.c jpeg_natural_order: zigzag index → natural index, with 16 extra entries that catch a corrupt run
    /// past coefficient 63.</summary>
    public static readonly byte[] NaturalOrder =
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
        12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
        63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    ];
}
