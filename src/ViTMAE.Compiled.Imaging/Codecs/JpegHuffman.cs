using System;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>A Huffman table as a DHT segment defines it: code counts per length and the symbols (jdmarker.c get_dht).</summary>
internal sealed class JpegHuffmanTable
{
    /// <summary>Bits[l] = number of codes of length l (1..16); Bits[0] is unused.</summary>
    public readonly byte[] Bits = new byte[17];

    /// <summary>The symbols in code order; entries past the last symbol are zero, as libjpeg leaves them.</summary>
    public readonly byte[] Values = new byte[256];

    // Libjpeg-turbo loads these into DC/AC slots 0 and 1 when a sequential file leaves them undefined (jstdhuff.c:
    // Motion-JPEG frames omit the standard tables).
    public static JpegHuffmanTable StandardDcLuminance() =>
        Make([0, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    public static JpegHuffmanTable StandardDcChrominance() =>
        Make([0, 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    public static JpegHuffmanTable StandardAcLuminance() => Make(
        [0, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
        [
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
            0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
            0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
            0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
            0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
            0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
            0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
            0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
            0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
            0xf9, 0xfa,
        ]);

    public static JpegHuffmanTable StandardAcChrominance() => Make(
        [0, 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        [
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
            0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
            0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
            0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
            0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
            0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
            0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
            0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
            0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
            0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
            0xf9, 0xfa,
        ]);

    private static JpegHuffmanTable Make(ReadOnlySpan<byte> bits, ReadOnlySpan<byte> values)
    {
        var table = new JpegHuffmanTable();
        bits.CopyTo(table.Bits);
        values.CopyTo(table.Values);
        return table;
    }
}

/// <summary>
/// Decoding tables derived from a <see cref="JpegHuffmanTable"/>, with libjpeg's validation (jdhuff.c
/// jpeg_make_d_derived_tbl): the same tables are rejected, and every bit string decodes to the same symbol and length,
/// including libjpeg's answer to a code no table entry matches (17 bits consumed, symbol 0).
/// </summary>
internal sealed class JpegDerivedTable
{
    /// <summary>Bits looked up at once (libjpeg's HUFF_LOOKAHEAD: its bit reader refills by this, so this decoder does
    /// too); longer codes continue bit by bit through <see cref="MaxCode"/>.</summary>
    public const int LookupBits = 8;

    /// <summary>For each <see cref="LookupBits"/>-bit prefix: (code length &lt;&lt; 8) | symbol, or 0 when the code is longer.</summary>
    public readonly ushort[] Lookup = new ushort[1 << LookupBits];

    /// <summary>MaxCode[l] = largest code of length l, −1 if none; MaxCode[17] is a sentinel that ends every search.</summary>
    public readonly int[] MaxCode = new int[18];

    /// <summary>ValOffset[l] = index in <see cref="Values"/> of the first symbol of length l, minus that code.</summary>
    public readonly int[] ValOffset = new int[18];

    public readonly byte[] Values = new byte[256];

    /// <summary>
    /// Builds the decoding tables, or returns the reason libjpeg would reject <paramref name="table"/> (a count overrun, an
    /// over-subscribed code — libjpeg also forbids the all-ones code — or a DC symbol above 15).
    /// </summary>
    public static JpegDerivedTable Build(JpegHuffmanTable table, bool isDc, out string? error)
    {
        error = null;
        var derived = new JpegDerivedTable();
        Span<byte> size = stackalloc byte[257];
        Span<int> code = stackalloc int[257];

        // Figure C.1: the code length of each symbol, guarding the 256-symbol limit.
        int p = 0;
        for (int l = 1; l <= 16; l++)
        {
            int count = table.Bits[l];
            if (p + count > 256)
            {
                error = "more than 256 symbols";
                return derived;
            }

            for (int i = 0; i < count; i++)
            {
                size[p++] = (byte)l;
            }
        }

        size[p] = 0;
        int symbols = p;

        // Figure C.2: canonical codes; a length whose codes overflow its bit width (or use the all-ones code) is invalid.
        int next = 0, si = size[0];
        p = 0;
        while (size[p] != 0)
        {
            while (size[p] == si)
            {
                code[p++] = next++;
            }

            if (next >= 1 << si)
            {
                error = $"an over-subscribed code ({si}-bit codes overflow)";
                return derived;
            }

            next <<= 1;
            si++;
        }

        // Figure F.15: the bit-serial decoding tables.
        p = 0;
        for (int l = 1; l <= 16; l++)
        {
            if (table.Bits[l] != 0)
            {
                derived.ValOffset[l] = p - code[p];
                p += table.Bits[l];
                derived.MaxCode[l] = code[p - 1];
            }
            else
            {
                derived.MaxCode[l] = -1;
            }
        }

        derived.ValOffset[17] = 0;
        derived.MaxCode[17] = 0xFFFFF;
        table.Values.CopyTo(derived.Values, 0);

        // DC symbols are bit counts of the difference: libjpeg accepts 0..15 only.
        if (isDc)
        {
            for (int i = 0; i < symbols; i++)
            {
                if (table.Values[i] > 15)
                {
                    error = $"a DC symbol of {table.Values[i]} (at most 15)";
                    return derived;
                }
            }
        }

        // Lookahead: each prefix resolves to the first length l whose l-bit head is at most MaxCode[l] — exactly the
        // bit-serial search, so short codes are found in one step and the rest resume at length LookupBits + 1.
        for (int prefix = 0; prefix < derived.Lookup.Length; prefix++)
        {
            for (int l = 1; l <= LookupBits; l++)
            {
                int head = prefix >> (LookupBits - l);
                if (head <= derived.MaxCode[l])
                {
                    derived.Lookup[prefix] = (ushort)((l << 8) | derived.Values[(head + derived.ValOffset[l]) & 0xFF]);
                    break;
                }
            }
        }

        return derived;
    }
}
