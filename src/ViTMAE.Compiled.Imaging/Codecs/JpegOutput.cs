using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>Sample output: the inverse DCT into component planes (with libjpeg's block smoothing for incomplete
/// progressive files), then upsampling and colour conversion into the RGB image PIL produces.</summary>
internal sealed partial class JpegReader
{
    // jdcolor.c build_ycc_rgb_table: SCALEBITS 16 fixed point, ONE_HALF rounding folded into Cb→G.
    private static readonly int[] CrToR = new int[256];
    private static readonly int[] CbToB = new int[256];
    private static readonly int[] CrToG = new int[256];
    private static readonly int[] CbToG = new int[256];

    // jdmaster.c's sample_range_limit: x → x clamped to 0..255, for x in −384..639 (every sum YccRow forms).
    private const int ClampOffset = 384;
    private static readonly byte[] ClampTable = new byte[1024];

#pragma warning disable CA1810 // The four tables are filled by one loop; a static constructor says so best.
    static JpegReader()
#pragma warning restore CA1810
    {
        for (int i = 0; i < 256; i++)
        {
            int x = i - 128;
            CrToR[i] = ((91881 * x) + 32768) >> 16;
            CbToB[i] = ((116130 * x) + 32768) >> 16;
            CrToG[i] = -46802 * x;
            CbToG[i] = (-22554 * x) + 32768;
        }

        for (int i = 0; i < ClampTable.Length; i++)
        {
            ClampTable[i] = (byte)Math.Clamp(i - ClampOffset, 0, 255);
        }
    }

    /// <summary>Single-scan files: each MCU's blocks are transformed as soon as they are decoded (jdcoefct.c
    /// decompress_onepass), skipping the dummy blocks past the image's right and bottom edges.</summary>
    private void InverseTransformMcu(JpegComponent[] scan, int mcuRow, int mcuCol)
    {
        Span<int> workspace = stackalloc int[64];
        int b = 0;
        foreach (var c in scan)
        {
            int mcuH = scan.Length > 1 ? c.H : 1, mcuV = scan.Length > 1 ? c.V : 1;
            for (int y = 0; y < mcuV; y++)
            {
                for (int x = 0; x < mcuH; x++, b++)
                {
                    int blockRow = (mcuRow * mcuV) + y, blockCol = (mcuCol * mcuH) + x;
                    if (blockRow < c.HeightInBlocks && blockCol < c.WidthInBlocks)
                    {
                        InverseDct(_mcuBuffer.AsSpan(64 * b, 64), c.IdctQuant!, c.Plane!, c.RowOffset(8 * blockRow) + (8 * blockCol), c.PlaneStride, workspace);
                    }
                }
            }
        }
    }

    /// <summary>Multi-scan files, after EOI: iMCU row by iMCU row, every block of every component through the IDCT —
    /// block-smoothed when the progressive scans left low-frequency coefficients incomplete (jdcoefct.c smoothing_ok) —
    /// and each row output once the next one is in.</summary>
    private void OutputMultiScan()
    {
        Span<int> workspace = stackalloc int[64];
        int[]? latch = _progressive ? SmoothingLatch() : null;
        BeginOutput();
        for (int iMcuRow = 0; iMcuRow < _totalIMcuRows; iMcuRow++)
        {
            foreach (var c in _components)
            {
                if (latch is not null)
                {
                    SmoothIMcuRow(c, latch, iMcuRow, workspace);
                    continue;
                }

                // A component no scan touched has no latched table: libjpeg's multiplier table is then all zero (mid-grey).
                short[] coefficients = c.Coefficients!;
                int[] quant = c.IdctQuant ?? new int[64];
                int lastRow = Math.Min((iMcuRow + 1) * c.V, c.HeightInBlocks);
                for (int row = iMcuRow * c.V; row < lastRow; row++)
                {
                    for (int col = 0; col < c.WidthInBlocks; col++)
                    {
                        InverseDct(coefficients.AsSpan(64 * ((row * c.BlocksPerLine) + col), 64), quant, c.Plane!, c.RowOffset(8 * row) + (8 * col), c.PlaneStride, workspace);
                    }
                }
            }

            if (iMcuRow > 0)
            {
                EmitIMcuRow(iMcuRow - 1);
            }
        }

        EmitIMcuRow(_totalIMcuRows - 1);
        _outputDone = true;
    }

    /// <summary>
    /// The accurate integer inverse DCT as libjpeg-turbo 2.1.5 runs it on x86-64 (jidctint-sse2/avx2.asm, selected over
    /// jidctint.c by jsimd_can_idct_islow): jpeg_idct_islow's constants and rounding, in 16-bit lanes — products with
    /// the quantiser and the sums in0±in4, in7+in3, in5+in1 wrap to 16 bits, each pass's outputs saturate to 16 bits,
    /// and the result saturates to 0..255 instead of going through jidctint.c's wrapping range-limit table. On any
    /// stream an encoder writes both agree; on out-of-range coefficients only this matches PIL on Debian 12 amd64.
    /// </summary>
    private static unsafe void InverseDct(ReadOnlySpan<short> coef, int[] quant, byte[] plane, int offset, int stride, Span<int> ws)
    {
        // The one bounds check for the pointer code below: the 8×8 output block lies inside the plane.
        if (coef.Length < 64 || quant.Length < 64 || ws.Length < 64 || stride < 8 || offset < 0 || (long)offset + (7L * stride) + 8 > plane.Length)
        {
            throw new ImageDecodeException("JPEG decoder: an IDCT block outside its plane (internal error).");
        }

        fixed (short* c = coef)
        fixed (int* q = quant)
        fixed (byte* o = &plane[offset])
        fixed (int* w = ws)
        {
            InverseDct(c, q, o, stride, w);
        }
    }

    [SkipLocalsInit]
    private static unsafe void InverseDct(short* coef, int* quant, byte* output, int stride, int* ws)
    {
        // Pass 1 shortcut (whole block): all AC rows zero → each column is its DC << 2 in a wrapping 16-bit shift.
        bool acRowsZero = true;
        long* rows = (long*)(coef + 8);
        for (int k = 0; k < 14; k++)
        {
            if (rows[k] != 0)
            {
                acRowsZero = false;
                break;
            }
        }

        if (acRowsZero)
        {
            bool flat = true;
            for (int col = 0; col < 8; col++)
            {
                int dc = (short)((short)(coef[col] * quant[col]) << 2);
                ws[col] = dc;
                flat &= col == 0 || dc == 0;
            }

            if (flat)
            {
                // Only the DC term: every sample is the same.
                ulong sample = (byte)(Math.Clamp(((ws[0] << 13) + (1 << 17)) >> 18, -128, 127) + 128) * 0x0101010101010101UL;
                for (int row = 0; row < 8; row++)
                {
                    *(ulong*)(output + (row * stride)) = sample;
                }

                return;
            }

            for (int i = 8; i < 64; i++)
            {
                ws[i] = ws[i & 7];
            }
        }
        else
        {
            for (int col = 0; col < 8; col++)
            {
                short* c = coef + col;
                int* q = quant + col;
                Butterfly(
                    (short)(c[0] * q[0]),
                    (short)(c[8] * q[8]),
                    (short)(c[16] * q[16]),
                    (short)(c[24] * q[24]),
                    (short)(c[32] * q[32]),
                    (short)(c[40] * q[40]),
                    (short)(c[48] * q[48]),
                    (short)(c[56] * q[56]),
                    11,
                    ws + col,
                    8);
            }
        }

        // Pass 2: rows, descaled by CONST_BITS + PASS1_BITS + 3, saturated to −128..127, re-centred on 128.
        int* o = stackalloc int[8];
        for (int row = 0; row < 8; row++)
        {
            int* w = ws + (8 * row);
            byte* line = output + (row * stride);
            if (w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0)
            {
                *(ulong*)line = (byte)(Math.Clamp(((w[0] << 13) + (1 << 17)) >> 18, -128, 127) + 128) * 0x0101010101010101UL;
                continue;
            }

            Butterfly(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], 18, o, 1);
            for (int i = 0; i < 8; i++)
            {
                line[i] = (byte)(Math.Clamp(o[i], -128, 127) + 128);
            }
        }
    }

    /// <summary>One 8-point pass of the SIMD islow IDCT on 16-bit inputs; outputs saturate to 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Butterfly(int in0, int in1, int in2, int in3, int in4, int in5, int in6, int in7, int shift, int* output, int step)
    {
        // Even part: tmp2/tmp3 from in2, in6 (exact 32-bit products), tmp0/tmp1 from the 16-bit sums in0 ± in4.
        int tmp3 = (in2 * (4433 + 6270)) + (in6 * 4433);
        int tmp2 = (in2 * 4433) + (in6 * (4433 - 15137));
        int tmp0 = (int)((uint)(short)(in0 + in4) << 13);
        int tmp1 = (int)((uint)(short)(in0 - in4) << 13);
        int tmp10 = tmp0 + tmp3, tmp13 = tmp0 - tmp3, tmp11 = tmp1 + tmp2, tmp12 = tmp1 - tmp2;

        // Odd part: z3 = in7 + in3 and z4 = in5 + in1 in 16 bits, the rotations as pairs of products.
        int z3 = (short)(in7 + in3), z4 = (short)(in5 + in1);
        int z3r = (z3 * (9633 - 16069)) + (z4 * 9633);
        int z4r = (z3 * 9633) + (z4 * (9633 - 3196));
        int t0 = (in7 * (2446 - 7373)) + (in1 * -7373) + z3r;
        int t1 = (in5 * (16819 - 20995)) + (in3 * -20995) + z4r;
        int t3 = (in7 * -7373) + (in1 * (12299 - 7373)) + z4r;
        int t2 = (in5 * -20995) + (in3 * (25172 - 20995)) + z3r;

        int round = 1 << (shift - 1);
        output[0] = Sat16((tmp10 + t3 + round) >> shift);
        output[7 * step] = Sat16((tmp10 - t3 + round) >> shift);
        output[step] = Sat16((tmp11 + t2 + round) >> shift);
        output[6 * step] = Sat16((tmp11 - t2 + round) >> shift);
        output[2 * step] = Sat16((tmp12 + t1 + round) >> shift);
        output[5 * step] = Sat16((tmp12 - t1 + round) >> shift);
        output[3 * step] = Sat16((tmp13 + t0 + round) >> shift);
        output[4 * step] = Sat16((tmp13 - t0 + round) >> shift);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Sat16(int x) => Math.Clamp(x, short.MinValue, short.MaxValue);

    /// <summary>jdcoefct.c smoothing_ok: the latched coef_bits (current, then before the last scan) for coefficients
    /// 0..9 of each component, or null when block smoothing does not apply.</summary>
    private int[]? SmoothingLatch()
    {
        const int Saved = 10;
        int n = _components.Length;
        var latch = new int[2 * n * Saved];
        bool useful = false;
        foreach (var c in _components)
        {
            ushort[]? q = c.Quant;
            if (q is null || q[0] == 0 || q[1] == 0 || q[8] == 0 || q[16] == 0 || q[9] == 0 || q[2] == 0 || q[3] == 0 || q[10] == 0 || q[17] == 0 || q[24] == 0)
            {
                return null;
            }

            int bits = c.Index * 64, prev = (c.Index + n) * 64;
            if (_coefBits[bits] < 0)
            {
                return null;
            }

            latch[c.Index * Saved] = _coefBits[bits];
            for (int k = 1; k < Saved; k++)
            {
                latch[((c.Index + n) * Saved) + k] = _scanNumber > 1 ? _coefBits[prev + k] : -1;
                latch[(c.Index * Saved) + k] = _coefBits[bits + k];
                useful |= _coefBits[bits + k] != 0;
            }
        }

        return useful ? latch : null;
    }

    /// <summary>
    /// jdcoefct.c decompress_smooth_data for one iMCU row of a component: coefficients 1..9 still zero and not known
    /// exact are estimated from the 5×5 neighbourhood of DC values (and the DC itself when no AC data arrived at all),
    /// with libjpeg's choice of neighbour rows at the image and iMCU-row edges.
    /// </summary>
    private void SmoothIMcuRow(JpegComponent c, int[] latch, int iMcuRow, Span<int> workspace)
    {
        const int Saved = 10;
        int n = _components.Length;
        short[] coefficients = c.Coefficients!;
        Span<short> block = stackalloc short[64];
        int lastIMcuRow = _totalIMcuRows - 1;
        ushort[] q = c.Quant!;
        long q00 = q[0], q01 = q[1], q10 = q[8], q20 = q[16], q11 = q[9], q02 = q[2];
        long q03 = q[3], q12 = q[10], q21 = q[17], q30 = q[24];
        int lastBlockColumn = c.WidthInBlocks - 1;
        int blockRows = c.V;
        if (iMcuRow == lastIMcuRow)
        {
            blockRows = c.HeightInBlocks % c.V;
            if (blockRows == 0)
            {
                blockRows = c.V;
            }
        }

        int bitsAt = (iMcuRow > _lastGoodIMcuRow ? c.Index + n : c.Index) * Saved;
        ReadOnlySpan<int> coefBits = latch.AsSpan(bitsAt, Saved);
        bool changeDc = true;
        for (int k = 1; k < Saved; k++)
        {
            changeDc &= coefBits[k] == -1;
        }

        for (int blockRow = 0; blockRow < blockRows; blockRow++)
        {
            // Neighbour rows as libjpeg picks them: they stay inside the iMCU rows it has buffered.
            int row = (iMcuRow * c.V) + blockRow;
            int prevRow = blockRow > 0 || iMcuRow > 0 ? row - 1 : row;
            int prevPrevRow = blockRow > 1 || iMcuRow > 1 ? row - 2 : prevRow;
            int nextRow = blockRow < blockRows - 1 || iMcuRow < lastIMcuRow ? row + 1 : row;
            int nextNextRow = blockRow < blockRows - 2 || iMcuRow + 1 < lastIMcuRow ? row + 2 : nextRow;
            int r1 = 64 * prevPrevRow * c.BlocksPerLine, r2 = 64 * prevRow * c.BlocksPerLine, r3 = 64 * row * c.BlocksPerLine;
            int r4 = 64 * nextRow * c.BlocksPerLine, r5 = 64 * nextNextRow * c.BlocksPerLine;

            // Sliding 5×5 window of DC values, seeded with column 0 so that narrow images replicate it.
            int dc01, dc02, dc03, dc04, dc05, dc06, dc07, dc08, dc09, dc10, dc11, dc12, dc13, dc14, dc15;
            int dc16, dc17, dc18, dc19, dc20, dc21, dc22, dc23, dc24, dc25;
            dc01 = dc02 = dc03 = dc04 = dc05 = coefficients[r1];
            dc06 = dc07 = dc08 = dc09 = dc10 = coefficients[r2];
            dc11 = dc12 = dc13 = dc14 = dc15 = coefficients[r3];
            dc16 = dc17 = dc18 = dc19 = dc20 = coefficients[r4];
            dc21 = dc22 = dc23 = dc24 = dc25 = coefficients[r5];
            for (int col = 0; col <= lastBlockColumn; col++)
            {
                coefficients.AsSpan(r3 + (64 * col), 64).CopyTo(block);
                if (col == 0 && col < lastBlockColumn)
                {
                    dc04 = coefficients[r1 + 64];
                    dc09 = coefficients[r2 + 64];
                    dc14 = coefficients[r3 + 64];
                    dc19 = coefficients[r4 + 64];
                    dc24 = coefficients[r5 + 64];
                }

                if (col + 1 < lastBlockColumn)
                {
                    int at = 64 * (col + 2);
                    dc05 = coefficients[r1 + at];
                    dc10 = coefficients[r2 + at];
                    dc15 = coefficients[r3 + at];
                    dc20 = coefficients[r4 + at];
                    dc25 = coefficients[r5 + at];
                }

                if (coefBits[1] != 0 && block[1] == 0)
                {
                    long num = q00 * (changeDc
                        ? -dc01 - dc02 + dc04 + dc05 - (3 * dc06) + (13 * dc07) - (13 * dc09) + (3 * dc10) - (3 * dc11) + (38 * dc12) - (38 * dc14)
                          + (3 * dc15) - (3 * dc16) + (13 * dc17) - (13 * dc19) + (3 * dc20) - dc21 - dc22 + dc24 + dc25
                        : (-7 * dc11) + (50 * dc12) - (50 * dc14) + (7 * dc15));
                    block[1] = Predict(num, q01, coefBits[1]);
                }

                if (coefBits[2] != 0 && block[8] == 0)
                {
                    long num = q00 * (changeDc
                        ? -dc01 - (3 * dc02) - (3 * dc03) - (3 * dc04) - dc05 - dc06 + (13 * dc07) + (38 * dc08) + (13 * dc09) - dc10 + dc16
                          - (13 * dc17) - (38 * dc18) - (13 * dc19) + dc20 + dc21 + (3 * dc22) + (3 * dc23) + (3 * dc24) + dc25
                        : (-7 * dc03) + (50 * dc08) - (50 * dc18) + (7 * dc23));
                    block[8] = Predict(num, q10, coefBits[2]);
                }

                if (coefBits[3] != 0 && block[16] == 0)
                {
                    long num = q00 * (changeDc
                        ? dc03 + (2 * dc07) + (7 * dc08) + (2 * dc09) - (5 * dc12) - (14 * dc13) - (5 * dc14) + (2 * dc17) + (7 * dc18) + (2 * dc19) + dc23
                        : -dc03 + (13 * dc08) - (24 * dc13) + (13 * dc18) - dc23);
                    block[16] = Predict(num, q20, coefBits[3]);
                }

                if (coefBits[4] != 0 && block[9] == 0)
                {
                    long num = q00 * (changeDc
                        ? -dc01 + dc05 + (9 * dc07) - (9 * dc09) - (9 * dc17) + (9 * dc19) + dc21 - dc25
                        : dc10 + dc16 - (10 * dc17) + (10 * dc19) - dc02 - dc20 + dc22 - dc24 + dc04 - dc06 + (10 * dc07) - (10 * dc09));
                    block[9] = Predict(num, q11, coefBits[4]);
                }

                if (coefBits[5] != 0 && block[2] == 0)
                {
                    long num = q00 * (changeDc
                        ? (2 * dc07) - (5 * dc08) + (2 * dc09) + dc11 + (7 * dc12) - (14 * dc13) + (7 * dc14) + dc15 + (2 * dc17) - (5 * dc18) + (2 * dc19)
                        : -dc11 + (13 * dc12) - (24 * dc13) + (13 * dc14) - dc15);
                    block[2] = Predict(num, q02, coefBits[5]);
                }

                if (changeDc)
                {
                    if (coefBits[6] != 0 && block[3] == 0)
                    {
                        block[3] = Predict(q00 * (dc07 - dc09 + (2 * dc12) - (2 * dc14) + dc17 - dc19), q03, coefBits[6]);
                    }

                    if (coefBits[7] != 0 && block[10] == 0)
                    {
                        block[10] = Predict(q00 * (dc07 - (3 * dc08) + dc09 - dc17 + (3 * dc18) - dc19), q12, coefBits[7]);
                    }

                    if (coefBits[8] != 0 && block[17] == 0)
                    {
                        block[17] = Predict(q00 * (dc07 - dc09 - (3 * dc12) + (3 * dc14) + dc17 - dc19), q21, coefBits[8]);
                    }

                    if (coefBits[9] != 0 && block[24] == 0)
                    {
                        block[24] = Predict(q00 * (dc07 + (2 * dc08) + dc09 - dc17 - (2 * dc18) - dc19), q30, coefBits[9]);
                    }

                    long dcNum = q00 * ((-2 * dc01) - (6 * dc02) - (8 * dc03) - (6 * dc04) - (2 * dc05) - (6 * dc06) + (6 * dc07) + (42 * dc08)
                        + (6 * dc09) - (6 * dc10) - (8 * dc11) + (42 * dc12) + (152 * dc13) + (42 * dc14) - (8 * dc15) - (6 * dc16) + (6 * dc17)
                        + (42 * dc18) + (6 * dc19) - (6 * dc20) - (2 * dc21) - (6 * dc22) - (8 * dc23) - (6 * dc24) - (2 * dc25));
                    block[0] = Predict(dcNum, q00, 0);
                }

                InverseDct(block, c.IdctQuant!, c.Plane!, c.RowOffset(8 * row) + (8 * col), c.PlaneStride, workspace);

                dc01 = dc02; dc02 = dc03; dc03 = dc04; dc04 = dc05;
                dc06 = dc07; dc07 = dc08; dc08 = dc09; dc09 = dc10;
                dc11 = dc12; dc12 = dc13; dc13 = dc14; dc14 = dc15;
                dc16 = dc17; dc17 = dc18; dc18 = dc19; dc19 = dc20;
                dc21 = dc22; dc22 = dc23; dc23 = dc24; dc24 = dc25;
            }
        }
    }

    /// <summary>A smoothed coefficient: round(num / (Q·256)) towards the nearer integer, capped below 2^Al when Al &gt; 0.</summary>
    private static short Predict(long num, long q, int al)
    {
        long pred;
        if (num >= 0)
        {
            pred = ((q << 7) + num) / (q << 8);
            if (al > 0 && pred >= 1 << al)
            {
                pred = (1 << al) - 1;
            }
        }
        else
        {
            pred = ((q << 7) - num) / (q << 8);
            if (al > 0 && pred >= 1 << al)
            {
                pred = (1 << al) - 1;
            }

            pred = -pred;
        }

        return unchecked((short)(int)pred);
    }

    /// <summary>How a component's samples reach output resolution (jdsample.c jinit_upsampler with fancy upsampling).</summary>
    private enum Upsampling
    {
        FullSize,
        H2V1Fancy,
        H1V2Fancy,
        H2V2Fancy,
        Box,
    }

    private Upsampling[] _upsampling = [];
    private byte[][] _upsampledRows = [];

    /// <summary>The output image and, per component, its upsampler (jdsample.c jinit_upsampler with fancy upsampling)
    /// and a row buffer.</summary>
    private void BeginOutput()
    {
        int n = _components.Length;
        _image = new RgbImage(_width, _height);
        _upsampling = new Upsampling[n];
        _upsampledRows = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            var c = _components[i];
            int hRatio = _maxH / c.H, vRatio = _maxV / c.V;
            _upsampling[i] = (hRatio, vRatio) switch
            {
                (1, 1) => Upsampling.FullSize,
                (2, 1) when c.DownsampledWidth > 2 => Upsampling.H2V1Fancy,
                (1, 2) => Upsampling.H1V2Fancy,
                (2, 2) when c.DownsampledWidth > 2 => Upsampling.H2V2Fancy,
                _ => Upsampling.Box,
            };
            _upsampledRows[i] = new byte[_width];
        }
    }

    /// <summary>Upsamples the output rows of one iMCU row and converts them to RGB as PIL requests it (JCS_RGB for 3
    /// components, JCS_GRAYSCALE replicated by convert("RGB"), JCS_CMYK inverted ("CMYK;I") then Convert.c cmyk2rgb).
    /// The iMCU rows before and after it must be in the components' rings.</summary>
    private void EmitIMcuRow(int iMcuRow)
    {
        int width = _width, n = _components.Length;
        byte[] rgb = _image!.Pixels;
        byte[][] rows = _upsampledRows;
        int first = iMcuRow * 8 * _maxV, end = Math.Min(_height, first + (8 * _maxV));
        for (int y = first; y < end; y++)
        {
            for (int i = 0; i < n; i++)
            {
                UpsampleRow(_components[i], _upsampling[i], y, rows[i]);
            }

            Span<byte> output = rgb.AsSpan(3 * width * y, 3 * width);
            switch (_colorSpace)
            {
                case JpegColorSpace.Grayscale:
                    GreyRow(rows[0], output);
                    break;
                case JpegColorSpace.YCbCr:
                    YccRow(rows[0], rows[1], rows[2], output);
                    break;
                case JpegColorSpace.Rgb:
                    for (int x = 0; x < width; x++)
                    {
                        output[3 * x] = rows[0][x];
                        output[(3 * x) + 1] = rows[1][x];
                        output[(3 * x) + 2] = rows[2][x];
                    }

                    break;
                default:
                    CmykRow(rows[0], rows[1], rows[2], rows[3], _colorSpace == JpegColorSpace.Ycck, output);
                    break;
            }
        }
    }

    /// <summary>Output row <paramref name="y"/> of component <paramref name="c"/> at full resolution. Rows above the
    /// image read its first row and rows below its last (jdmainct.c context rows); columns past the component's width
    /// repeat its last sample, as the fancy upsamplers' edge cases do.</summary>
    private unsafe void UpsampleRow(JpegComponent c, Upsampling method, int y, byte[] output)
    {
        byte[] plane = c.Plane!;
        int dw = c.DownsampledWidth, dh = c.DownsampledHeight, width = _width;
        switch (method)
        {
            case Upsampling.FullSize:
                plane.AsSpan(c.RowOffset(y), width).CopyTo(output);
                break;
            case Upsampling.H2V1Fancy:
            {
                // Samples j−1, j, j+1 (clamped) give output pixels 2j and 2j+1: 3/4 nearer + 1/4 further.
                ReadOnlySpan<byte> row = plane.AsSpan(c.RowOffset(y), dw);
                fixed (byte* input = row)
                fixed (byte* o = output)
                {
                    for (int j = 0, x = 0; x < width; j++, x += 2)
                    {
                        int near = input[j] * 3;
                        o[x] = (byte)((near + input[j > 0 ? j - 1 : 0] + 1) >> 2);
                        if (x + 1 < width)
                        {
                            o[x + 1] = (byte)((near + input[j + 1 < dw ? j + 1 : j] + 2) >> 2);
                        }
                    }
                }

                break;
            }

            case Upsampling.H1V2Fancy:
            {
                int i = y >> 1;
                bool upper = (y & 1) == 0;
                ReadOnlySpan<byte> near = plane.AsSpan(c.RowOffset(i), width);
                ReadOnlySpan<byte> far = plane.AsSpan(c.RowOffset(upper ? Math.Max(i - 1, 0) : Math.Min(i + 1, dh - 1)), width);
                int bias = upper ? 1 : 2;
                for (int x = 0; x < near.Length && x < far.Length && x < output.Length; x++)
                {
                    output[x] = (byte)(((near[x] * 3) + far[x] + bias) >> 2);
                }

                break;
            }

            case Upsampling.H2V2Fancy:
            {
                // Column sums 3·nearer row + further row, then the same 3:1 weighting across columns (/16).
                int i = y >> 1;
                ReadOnlySpan<byte> nearRow = plane.AsSpan(c.RowOffset(i), dw);
                ReadOnlySpan<byte> farRow = plane.AsSpan(c.RowOffset((y & 1) == 0 ? Math.Max(i - 1, 0) : Math.Min(i + 1, dh - 1)), dw);
                fixed (byte* near = nearRow)
                fixed (byte* far = farRow)
                fixed (byte* o = output)
                {
                    int previous = (near[0] * 3) + far[0], current = previous;
                    for (int j = 0, x = 0; x < width; j++, x += 2)
                    {
                        int next = j + 1 < dw ? (near[j + 1] * 3) + far[j + 1] : current;
                        o[x] = (byte)(((current * 3) + previous + 8) >> 4);
                        if (x + 1 < width)
                        {
                            o[x + 1] = (byte)(((current * 3) + next + 7) >> 4);
                        }

                        previous = current;
                        current = next;
                    }
                }

                break;
            }

            default:
            {
                // int_upsample and the non-fancy h2v1/h2v2 cases: each sample repeated hRatio × vRatio times.
                int hRatio = _maxH / c.H, vRatio = _maxV / c.V;
                ReadOnlySpan<byte> row = plane.AsSpan(c.RowOffset(y / vRatio), dw);
                for (int x = 0; x < width; x++)
                {
                    output[x] = row[x / hRatio];
                }

                break;
            }
        }
    }

    // Grey → RGB: byte i of 16 goes to bytes 3i..3i+2 of 48, three shuffles per 16 pixels.
    private static readonly Vector128<byte> GreyToRgb0 = Vector128.Create((byte)0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5);
    private static readonly Vector128<byte> GreyToRgb1 = Vector128.Create((byte)5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10);
    private static readonly Vector128<byte> GreyToRgb2 = Vector128.Create((byte)10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15);

    /// <summary>PIL's convert("RGB") of mode L: the grey value in all three channels.</summary>
    private static unsafe void GreyRow(ReadOnlySpan<byte> grey, Span<byte> output)
    {
        if (output.Length < 3 * grey.Length)
        {
            throw new ImageDecodeException("JPEG decoder: an RGB row too short (internal error).");
        }

        fixed (byte* g = grey)
        fixed (byte* o = output)
        {
            int x = 0;
            if (Vector128.IsHardwareAccelerated)
            {
                for (; x + 16 <= grey.Length; x += 16)
                {
                    var v = Vector128.Load(g + x);
                    Vector128.Shuffle(v, GreyToRgb0).Store(o + (3 * x));
                    Vector128.Shuffle(v, GreyToRgb1).Store(o + (3 * x) + 16);
                    Vector128.Shuffle(v, GreyToRgb2).Store(o + (3 * x) + 32);
                }
            }

            for (; x < grey.Length; x++)
            {
                byte v = g[x];
                o[3 * x] = v;
                o[(3 * x) + 1] = v;
                o[(3 * x) + 2] = v;
            }
        }
    }

    /// <summary>jdcolor.c ycc_rgb_convert (libjpeg-turbo's SSE2/AVX2 version computes the same values).</summary>
    private static unsafe void YccRow(ReadOnlySpan<byte> yRow, ReadOnlySpan<byte> cbRow, ReadOnlySpan<byte> crRow, Span<byte> output)
    {
        int n = yRow.Length;
        if (cbRow.Length < n || crRow.Length < n || output.Length < 3 * n)
        {
            throw new ImageDecodeException("JPEG decoder: colour rows too short (internal error).");
        }

        fixed (byte* yp = yRow)
        fixed (byte* cbp = cbRow)
        fixed (byte* crp = crRow)
        fixed (byte* o = output)
        fixed (int* crToR = CrToR)
        fixed (int* cbToB = CbToB)
        fixed (int* crToG = CrToG)
        fixed (int* cbToG = CbToG)
        fixed (byte* clamp = &ClampTable[ClampOffset])
        {
            for (int x = 0; x < n; x++)
            {
                int y = yp[x], cb = cbp[x], cr = crp[x];
                byte* p = o + (3 * x);
                p[0] = clamp[y + crToR[cr]];
                p[1] = clamp[y + ((cbToG[cb] + crToG[cr]) >> 16)];
                p[2] = clamp[y + cbToB[cb]];
            }
        }
    }

    /// <summary>
    /// Four components: libjpeg's CMYK (YCCK first converted by jdcolor.c ycck_cmyk_convert), inverted by PIL's
    /// "CMYK;I" unpacker, then Convert.c cmyk2rgb: each channel nk − nk·c/255 with PIL's MULDIV255 rounding.
    /// </summary>
    private static void CmykRow(ReadOnlySpan<byte> c0, ReadOnlySpan<byte> c1, ReadOnlySpan<byte> c2, ReadOnlySpan<byte> c3, bool ycck, Span<byte> output)
    {
        for (int x = 0; x < c0.Length; x++)
        {
            int c, m, yel;
            if (ycck)
            {
                int y = c0[x], cb = c1[x], cr = c2[x];
                c = Clamp255(255 - (y + CrToR[cr]));
                m = Clamp255(255 - (y + ((CbToG[cb] + CrToG[cr]) >> 16)));
                yel = Clamp255(255 - (y + CbToB[cb]));
            }
            else
            {
                c = c0[x];
                m = c1[x];
                yel = c2[x];
            }

            // PIL's CMYK pixel is 255 − libjpeg's; nk = 255 − K_pil = libjpeg's K.
            int nk = c3[x];
            output[3 * x] = Clamp255(nk - MulDiv255(255 - c, nk));
            output[(3 * x) + 1] = Clamp255(nk - MulDiv255(255 - m, nk));
            output[(3 * x) + 2] = Clamp255(nk - MulDiv255(255 - yel, nk));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MulDiv255(int a, int b)
    {
        int t = (a * b) + 128;
        return ((t >> 8) + t) >> 8;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clamp255(int v) => (byte)Math.Clamp(v, 0, 255);
}
