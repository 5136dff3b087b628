using System;
using System.Runtime.CompilerServices;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>Entropy decoding: the bit reader, restart markers, and the sequential and progressive Huffman decoders
/// (behaviour of libjpeg-turbo 2.1.5's jdhuff.c and jdphuff.c, including what they do with corrupt data).</summary>
internal sealed partial class JpegReader
{
    // jdhuff.c MIN_GET_BITS for a 64-bit bit buffer: the reader loads bytes until it holds at least this many bits.
    private const int MinGetBits = 57;

    private ulong _bitBuffer;
    private int _bitsLeft;

    /// <summary>The marker that ended the entropy-coded data (libjpeg's unread_marker), 0 if none seen yet.</summary>
    private int _unreadMarker;

    /// <summary>Set once the decoder has consumed bits past the end of the segment's data (libjpeg's insufficient_data):
    /// the rest of the segment decodes as zero coefficients.</summary>
    private bool _insufficient;

    private int _restartsToGo;
    private int _nextRestartNum;
    private int _eobRun;
    private readonly int[] _dcPred = new int[4];
    private readonly short[] _mcuBuffer = new short[MaxBlocksInMcu * 64];

    // Per scan: for each block of an MCU, its component's position in the scan.
    private readonly int[] _membership = new int[MaxBlocksInMcu];

    // PIL feeds libjpeg the file in 64 KiB reads (ImageFile.MAXBLOCK); libjpeg suspends when its read-ahead reaches
    // the end of what it has been given, and PIL then appends the next read. Only the very end of the file matters
    // (there libjpeg gives up and PIL reports a truncated file), but when the read-ahead gets there depends on which
    // of jdhuff.c's two bit readers ran, and that depends on how much data PIL had handed over. So a single-scan
    // sequential image tracks PIL's buffer end (_bufferEnd) and redoes an MCU when libjpeg would have suspended in it.
    private const int PilReadSize = 65536;
    private int _bufferEnd;
    private bool _suspended;

    /// <summary>
    /// jdhuff.c jpeg_fill_bit_buffer: loads bytes until the buffer holds <see cref="MinGetBits"/> bits. Stuffed FF 00 is
    /// a data byte 0xFF, fill bytes before a marker are swallowed, a marker ends the data (it becomes the unread marker)
    /// and from then on missing bits read as zeros — the first time they are actually needed the segment is marked
    /// insufficient. Reaching the end of the file is a truncated file (libjpeg suspends, PIL has nothing more to give);
    /// reaching the end of PIL's buffer before that marks the MCU for a redo with the next 64 KiB appended.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Fill(int needed)
    {
        if (_unreadMarker == 0 && !_suspended)
        {
            byte[] data = _data;
            int end = _bufferEnd, pos = _pos;
            while (_bitsLeft < MinGetBits)
            {
                int start = pos;
                if (pos >= end)
                {
                    Suspend(pos);
                    break;
                }

                int c = data[pos++];
                if (c == 0xFF)
                {
                    do
                    {
                        if (pos >= end)
                        {
                            c = -1;
                            break;
                        }

                        c = data[pos++];
                    }
                    while (c == 0xFF);

                    if (c < 0)
                    {
                        pos = start;
                        Suspend(pos);
                        break;
                    }

                    if (c == 0)
                    {
                        c = 0xFF;
                    }
                    else
                    {
                        _unreadMarker = c;
                        break;
                    }
                }

                _bitBuffer = (_bitBuffer << 8) | (uint)c;
                _bitsLeft += 8;
            }

            _pos = pos;
            if (_unreadMarker == 0 && !_suspended)
            {
                return;
            }
        }

        if (needed > _bitsLeft)
        {
            // Past the data: zero bits. A suspended MCU is redone, so only a real end of data marks the segment.
            _insufficient |= !_suspended;
            _bitBuffer <<= MinGetBits - _bitsLeft;
            _bitsLeft = MinGetBits;
        }
    }

    /// <summary>The read-ahead reached the end of PIL's buffer at <paramref name="pos"/>: at the end of the file that is a
    /// truncated file; before it, the MCU finishes on zero bits and is then redone with more data.</summary>
    private void Suspend(int pos)
    {
        if (_bufferEnd >= _data.Length)
        {
            _pos = pos;
            throw Truncated("the rest of the entropy-coded scan data", pos, _data.Length);
        }

        _suspended = true;
    }

    /// <summary>jdhuff.c FILL_BIT_BUFFER_FAST (decode_mcu_fast's reader): with 16 bits or fewer left, six bytes at once;
    /// a marker makes the fast decoder give up the MCU (<see cref="_fastMarker"/>), which is then decoded the slow way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FillFast()
    {
        if (_bitsLeft > 16)
        {
            return;
        }

        byte[] data = _data;
        int pos = _pos;
        if (pos + 13 > _bufferEnd)
        {
            // Cannot happen with libjpeg's 512-bytes-per-block margin; give the MCU to the slow reader if it does.
            _fastMarker = true;
            _bitBuffer <<= 48;
            _bitsLeft += 48;
            return;
        }

        for (int i = 0; i < 6; i++)
        {
            int c0 = data[pos++], c1 = data[pos];
            _bitBuffer = (_bitBuffer << 8) | (uint)c0;
            _bitsLeft += 8;
            if (c0 == 0xFF)
            {
                pos++;
                if (c1 != 0)
                {
                    _fastMarker = true;
                    pos -= 2;
                    _bitBuffer &= ~0xFFUL;
                }
            }
        }

        _pos = pos;
    }

    private bool _fastMarker;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int GetBits(int n)
    {
        if (_bitsLeft < n)
        {
            Fill(n);
        }

        _bitsLeft -= n;
        return (int)(_bitBuffer >> _bitsLeft) & ((1 << n) - 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int GetBitsFast(int n)
    {
        FillFast();
        _bitsLeft -= n;
        return (int)(_bitBuffer >> _bitsLeft) & ((1 << n) - 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int GetBit()
    {
        if (_bitsLeft < 1)
        {
            Fill(1);
        }

        _bitsLeft--;
        return (int)(_bitBuffer >> _bitsLeft) & 1;
    }

    /// <summary>Figure F.12: the value of an s-bit magnitude field.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Extend(int r, int s) => r < (1 << (s - 1)) ? r + (-1 << s) + 1 : r;

    /// <summary>jdhuff.h HUFF_DECODE: refill below 8 bits; an 8-bit lookahead; longer codes through jpeg_huff_decode
    /// (refill below 9 bits, then bit by bit). Fewer than 8 bits even after a refill (the data ended at a marker):
    /// bit-serial from the first bit, zero bits past the marker.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int DecodeSymbol(JpegDerivedTable table)
    {
        if (_bitsLeft < JpegDerivedTable.LookupBits)
        {
            Fill(0);
            if (_bitsLeft < JpegDerivedTable.LookupBits)
            {
                return DecodeSymbolSlow(table, 1);
            }
        }

        int entry = table.Lookup[(int)(_bitBuffer >> (_bitsLeft - JpegDerivedTable.LookupBits)) & ((1 << JpegDerivedTable.LookupBits) - 1)];
        if (entry != 0)
        {
            _bitsLeft -= entry >> 8;
            return entry & 0xFF;
        }

        return DecodeSymbolSlow(table, JpegDerivedTable.LookupBits + 1);
    }

    /// <summary>jdhuff.c jpeg_huff_decode: the first <paramref name="minBits"/> bits at once, then one at a time until the
    /// code is at most MaxCode[l]; no match by 16 bits is libjpeg's "bad Huffman code": symbol 0 after 17 bits.</summary>
    private int DecodeSymbolSlow(JpegDerivedTable table, int minBits)
    {
        int l = minBits;
        int code = GetBits(l);
        int[] maxCode = table.MaxCode;
        while (code > maxCode[l])
        {
            code = (code << 1) | GetBit();
            l++;
        }

        return l > 16 ? 0 : table.Values[(code + table.ValOffset[l]) & 0xFF];
    }

    /// <summary>jdhuff.h HUFF_DECODE_FAST: refill (fast) at 16 bits or fewer, which leaves enough for any code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int DecodeSymbolFast(JpegDerivedTable table)
    {
        FillFast();
        int look = (int)(_bitBuffer >> (_bitsLeft - JpegDerivedTable.LookupBits)) & ((1 << JpegDerivedTable.LookupBits) - 1);
        int entry = table.Lookup[look];
        if (entry != 0)
        {
            _bitsLeft -= entry >> 8;
            return entry & 0xFF;
        }

        _bitsLeft -= JpegDerivedTable.LookupBits + 1;
        int l = JpegDerivedTable.LookupBits + 1;
        int code = (int)(_bitBuffer >> _bitsLeft) & ((1 << l) - 1);
        int[] maxCode = table.MaxCode;
        while (code > maxCode[l])
        {
            _bitsLeft--;
            code = (code << 1) | ((int)(_bitBuffer >> _bitsLeft) & 1);
            l++;
        }

        return l > 16 ? 0 : table.Values[(code + table.ValOffset[l]) & 0xFF];
    }

    /// <summary>The end of PIL's buffer once byte <paramref name="last"/> has been read: the end of its 64 KiB read.</summary>
    private int ChunkEnd(int last) => (int)Math.Min(_data.Length, ((Math.Max(last, 0) / (long)PilReadSize) + 1) * PilReadSize);

    /// <summary>jdhuff.c process_restart: drop the buffered bits, read the RSTn marker (or resynchronise), reset the
    /// predictions; the out-of-data flag clears unless the data stops at a marker right away.</summary>
    private void ProcessRestart()
    {
        _bitsLeft = 0;
        if (_unreadMarker == 0 && !TryNextMarker(out _unreadMarker))
        {
            throw Truncated($"restart marker RST{_nextRestartNum}", _pos, _data.Length);
        }

        if (_unreadMarker == 0xD0 + _nextRestartNum)
        {
            _unreadMarker = 0;
        }
        else
        {
            ResyncToRestart(_nextRestartNum);
        }

        _nextRestartNum = (_nextRestartNum + 1) & 7;
        _bufferEnd = Math.Max(_bufferEnd, ChunkEnd(_pos - 1));
        Array.Clear(_dcPred);
        _eobRun = 0;
        _restartsToGo = _restartInterval;
        if (_unreadMarker == 0)
        {
            _insufficient = false;
        }
    }

    /// <summary>jdmarker.c jpeg_resync_to_restart: discard the wrong marker, skip to a later one, or leave it for the
    /// entropy decoder to meet (an empty segment), by how far it is from the expected RSTn.</summary>
    private void ResyncToRestart(int desired)
    {
        while (true)
        {
            int marker = _unreadMarker;
            int action;
            if (marker < 0xC0)
            {
                action = 2;
            }
            else if (marker is < 0xD0 or > 0xD7)
            {
                action = 3;
            }
            else if (marker == 0xD0 + ((desired + 1) & 7) || marker == 0xD0 + ((desired + 2) & 7))
            {
                action = 3;
            }
            else if (marker == 0xD0 + ((desired - 1) & 7) || marker == 0xD0 + ((desired - 2) & 7))
            {
                action = 2;
            }
            else
            {
                action = 1;
            }

            if (action == 1)
            {
                _unreadMarker = 0;
                return;
            }

            if (action == 3)
            {
                return;
            }

            if (!TryNextMarker(out _unreadMarker))
            {
                throw Truncated($"restart marker RST{desired}", _pos, _data.Length);
            }
        }
    }

    /// <summary>Scan set-up (jdinput.c per_scan_setup, latch_quant_tables, the entropy decoders' start_pass), then the
    /// MCUs in order.</summary>
    private void DecodeScan(JpegComponent[] scan, int ss, int se, int ah, int al)
    {
        int blocksInMcu = 0;
        if (scan.Length > 1)
        {
            for (int i = 0; i < scan.Length; i++)
            {
                int blocks = scan[i].H * scan[i].V;
                if (blocksInMcu + blocks > MaxBlocksInMcu)
                {
                    throw new ImageDecodeException(_name, $"an interleaved MCU of at most {MaxBlocksInMcu} blocks", $"more in the scan at byte {_pos}");
                }

                for (int b = 0; b < blocks; b++)
                {
                    _membership[blocksInMcu++] = i;
                }
            }
        }
        else
        {
            _membership[0] = 0;
            blocksInMcu = 1;
        }

        foreach (var c in scan)
        {
            if (c.Quant is null)
            {
                var table = (c.QuantTableNumber < 4 ? _quantTables[c.QuantTableNumber] : null)
                    ?? throw new ImageDecodeException(_name, $"quantisation table {c.QuantTableNumber} defined before the first scan of component {c.Id}", "no such table");
                c.Quant = (ushort[])table.Clone();
                c.IdctQuant = new int[64];
                for (int k = 0; k < 64; k++)
                {
                    c.IdctQuant[k] = (short)c.Quant[k];
                }
            }

            c.Covered = true;
        }

        int mode;
        if (_progressive)
        {
            mode = StartProgressiveScan(scan, ss, se, ah, al);
        }
        else
        {
            // libjpeg only warns about Ss/Se/Ah/Al in a sequential scan, and decodes it as a full sequential scan.
            foreach (var c in scan)
            {
                c.DcDerived = Derive(_dcTables, c.DcTable, true);
                c.AcDerived = Derive(_acTables, c.AcTable, false);
            }

            mode = 0;
        }

        Array.Clear(_dcPred);
        _bitsLeft = 0;
        _bitBuffer = 0;
        _insufficient = false;
        _suspended = false;
        _bufferEnd = _multiScan ? _data.Length : ChunkEnd(_pos - 1);
        _eobRun = 0;
        _restartsToGo = _restartInterval;

        bool interleaved = scan.Length > 1;
        int mcusPerRow = interleaved ? (int)CeilDiv(_width, 8L * _maxH) : scan[0].WidthInBlocks;
        int mcuRows = interleaved ? (int)CeilDiv(_height, 8L * _maxV) : scan[0].HeightInBlocks;
        _blockVisits += (long)mcusPerRow * mcuRows * blocksInMcu;
        if (_blockVisits > _blockVisitBudget)
        {
            throw new ImageDecodeException(_name, "a JPEG whose scans revisit each block a bounded number of times", $"{_blockVisits} block decodes for {_blockVisitBudget / 256} blocks (a decompression-time bomb)");
        }

        Span<int> offsets = stackalloc int[MaxBlocksInMcu];
        if (!_multiScan)
        {
            BeginOutput();
        }

        for (int mcuRow = 0; mcuRow < mcuRows; mcuRow++)
        {
            int iMcuRow = interleaved ? mcuRow : mcuRow / scan[0].V;
            for (int mcuCol = 0; mcuCol < mcusPerRow; mcuCol++)
            {
                // Where each block of the MCU lives: the MCU buffer (single scan), or its coefficient array.
                if (_multiScan)
                {
                    if (!_insufficient)
                    {
                        _lastGoodIMcuRow = iMcuRow;
                    }

                    if (interleaved)
                    {
                        int b = 0;
                        foreach (var c in scan)
                        {
                            for (int y = 0; y < c.V; y++)
                            {
                                for (int x = 0; x < c.H; x++)
                                {
                                    offsets[b++] = 64 * ((((mcuRow * c.V) + y) * c.BlocksPerLine) + (mcuCol * c.H) + x);
                                }
                            }
                        }
                    }
                    else
                    {
                        offsets[0] = 64 * ((mcuRow * scan[0].BlocksPerLine) + mcuCol);
                    }
                }
                else
                {
                    _mcuBuffer.AsSpan(0, 64 * blocksInMcu).Clear();
                }

                switch (mode)
                {
                    case 0:
                        DecodeMcuSequential(scan, blocksInMcu, offsets);
                        break;
                    case 1:
                        DecodeMcuDcFirst(scan, blocksInMcu, offsets, al);
                        break;
                    case 2:
                        DecodeMcuDcRefine(scan, blocksInMcu, offsets, al);
                        break;
                    case 3:
                        DecodeMcuAcFirst(scan[0], offsets[0], ss, se, al);
                        break;
                    default:
                        DecodeMcuAcRefine(scan[0], offsets[0], ss, se, al);
                        break;
                }

                if (!_multiScan)
                {
                    InverseTransformMcu(scan, mcuRow, mcuCol);
                }
            }

            // Single scan: once an iMCU row is in, the one before it has both neighbours and can be output.
            if (!_multiScan && (interleaved || (mcuRow + 1) % scan[0].V == 0 || mcuRow == mcuRows - 1) && iMcuRow > 0)
            {
                EmitIMcuRow(iMcuRow - 1);
            }
        }

        if (!_multiScan)
        {
            EmitIMcuRow(_totalIMcuRows - 1);
            _outputDone = true;
        }
    }

    private JpegDerivedTable Derive(JpegHuffmanTable?[] tables, int number, bool dc)
    {
        string kind = dc ? "DC" : "AC";
        var table = (number < 4 ? tables[number] : null)
            ?? throw new ImageDecodeException(_name, $"{kind} Huffman table {number} defined before the scan that uses it", "no such table");
        var derived = JpegDerivedTable.Build(table, dc, out string? error);
        return error is null ? derived : throw new ImageDecodeException(_name, $"a valid {kind} Huffman table {number}", error);
    }

    /// <summary>The coefficient block of the <paramref name="b"/>-th block of the MCU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<short> Block(JpegComponent[] scan, int b, ReadOnlySpan<int> offsets) =>
        _multiScan ? scan[_membership[b]].Coefficients.AsSpan(offsets[b], 64) : _mcuBuffer.AsSpan(64 * b, 64);

    /// <summary>
    /// jdhuff.c decode_mcu: restart handling, then the MCU through decode_mcu_fast when there is no restart interval and
    /// PIL's buffer holds at least 512 bytes per block (falling back to decode_mcu_slow if it meets a marker), else
    /// decode_mcu_slow; and, like libjpeg after a suspension, the MCU again from its start once PIL has read more.
    /// Both readers decode the same values; they differ only in how far they read ahead, which decides whether a file
    /// that ends without its EOI marker is truncated in PIL's eyes.
    /// </summary>
    private void DecodeMcuSequential(JpegComponent[] scan, int blocksInMcu, ReadOnlySpan<int> offsets)
    {
        if (_restartInterval != 0 && _restartsToGo == 0)
        {
            ProcessRestart();
        }

        if (!_insufficient)
        {
            ulong bitBuffer = _bitBuffer;
            int bitsLeft = _bitsLeft, pos = _pos;
            Span<int> predictions = stackalloc int[4];
            _dcPred.CopyTo(predictions);
            while (true)
            {
                if (_restartInterval == 0 && _unreadMarker == 0 && _bufferEnd - _pos >= 512 * blocksInMcu)
                {
                    _fastMarker = false;
                    DecodeBlocksFast(scan, blocksInMcu, offsets);
                    if (!_fastMarker)
                    {
                        break;
                    }

                    (_bitBuffer, _bitsLeft, _pos) = (bitBuffer, bitsLeft, pos);
                    predictions.CopyTo(_dcPred);
                }

                DecodeBlocksSlow(scan, blocksInMcu, offsets);
                if (!_suspended)
                {
                    break;
                }

                (_bitBuffer, _bitsLeft, _pos) = (bitBuffer, bitsLeft, pos);
                predictions.CopyTo(_dcPred);
                _suspended = false;
                _bufferEnd = Math.Min(_data.Length, _bufferEnd + PilReadSize);
                if (!_multiScan)
                {
                    _mcuBuffer.AsSpan(0, 64 * blocksInMcu).Clear();
                }
            }
        }

        if (_restartInterval != 0)
        {
            _restartsToGo--;
        }
    }

    /// <summary>jdhuff.c decode_mcu_slow: each block's DC difference and AC run/levels.</summary>
    private void DecodeBlocksSlow(JpegComponent[] scan, int blocksInMcu, ReadOnlySpan<int> offsets)
    {
        byte[] natural = JpegTables.NaturalOrder;
        for (int b = 0; b < blocksInMcu; b++)
        {
            int ci = _membership[b];
            var c = scan[ci];
            Span<short> block = Block(scan, b, offsets);
            int s = DecodeSymbol(c.DcDerived!);
            if (s != 0)
            {
                s = Extend(GetBits(s), s);
            }

            // The prediction is an int that may wrap on corrupt data (libjpeg tolerates that too); the coefficient keeps 16 bits.
            s = unchecked(s + _dcPred[ci]);
            _dcPred[ci] = s;
            block[0] = unchecked((short)s);

            JpegDerivedTable ac = c.AcDerived!;
            for (int k = 1; k < 64; k++)
            {
                s = DecodeSymbol(ac);
                int r = s >> 4;
                s &= 15;
                if (s != 0)
                {
                    k += r;
                    r = GetBits(s);
                    block[natural[k]] = (short)Extend(r, s);
                }
                else
                {
                    if (r != 15)
                    {
                        break;
                    }

                    k += 15;
                }
            }
        }
    }

    /// <summary>jdhuff.c decode_mcu_fast: the same decoding with FILL_BIT_BUFFER_FAST's read-ahead.</summary>
    private void DecodeBlocksFast(JpegComponent[] scan, int blocksInMcu, ReadOnlySpan<int> offsets)
    {
        byte[] natural = JpegTables.NaturalOrder;
        for (int b = 0; b < blocksInMcu; b++)
        {
            int ci = _membership[b];
            var c = scan[ci];
            Span<short> block = Block(scan, b, offsets);
            int s = DecodeSymbolFast(c.DcDerived!);
            if (s != 0)
            {
                s = Extend(GetBitsFast(s), s);
            }

            s = unchecked(s + _dcPred[ci]);
            _dcPred[ci] = s;
            block[0] = unchecked((short)s);

            JpegDerivedTable ac = c.AcDerived!;
            for (int k = 1; k < 64; k++)
            {
                s = DecodeSymbolFast(ac);
                int r = s >> 4;
                s &= 15;
                if (s != 0)
                {
                    k += r;
                    r = GetBitsFast(s);
                    block[natural[k]] = (short)Extend(r, s);
                }
                else
                {
                    if (r != 15)
                    {
                        break;
                    }

                    k += 15;
                }
            }
        }
    }

    /// <summary>jdphuff.c start_pass_phuff_decoder: scan parameters, progression bookkeeping, tables. Returns the decoder.</summary>
    private int StartProgressiveScan(JpegComponent[] scan, int ss, int se, int ah, int al)
    {
        bool dcBand = ss == 0;
        bool bad = dcBand ? se != 0 : ss > se || se >= 64 || scan.Length != 1;
        bad |= ah != 0 && al != ah - 1;
        bad |= al > 13;
        if (bad)
        {
            throw new ImageDecodeException(_name, "valid progressive scan parameters", $"Ss={ss} Se={se} Ah={ah} Al={al} with {scan.Length} components");
        }

        int n = _components.Length;
        foreach (var c in scan)
        {
            int bits = c.Index * 64, prev = (c.Index + n) * 64;
            for (int k = Math.Min(ss, 1); k <= Math.Max(se, 9); k++)
            {
                _coefBits[prev + k] = _scanNumber > 1 ? _coefBits[bits + k] : 0;
            }

            for (int k = ss; k <= se; k++)
            {
                _coefBits[bits + k] = al;
            }
        }

        foreach (var c in scan)
        {
            if (dcBand)
            {
                if (ah == 0)
                {
                    c.DcDerived = Derive(_dcTables, c.DcTable, true);
                }
            }
            else
            {
                c.AcDerived = Derive(_acTables, c.AcTable, false);
            }
        }

        return dcBand ? (ah == 0 ? 1 : 2) : (ah == 0 ? 3 : 4);
    }

    /// <summary>jdphuff.c decode_mcu_DC_first. A DC prediction that would overflow an int is libjpeg's JERR_BAD_DCT_COEF.</summary>
    private void DecodeMcuDcFirst(JpegComponent[] scan, int blocksInMcu, ReadOnlySpan<int> offsets, int al)
    {
        if (_restartInterval != 0 && _restartsToGo == 0)
        {
            ProcessRestart();
        }

        if (!_insufficient)
        {
            for (int b = 0; b < blocksInMcu; b++)
            {
                int ci = _membership[b];
                int s = DecodeSymbol(scan[ci].DcDerived!);
                if (s != 0)
                {
                    s = Extend(GetBits(s), s);
                }

                long sum = (long)s + _dcPred[ci];
                if (sum is > int.MaxValue or < int.MinValue)
                {
                    throw new ImageDecodeException(_name, "DC coefficients within range", "a DC prediction that overflows (corrupt data)");
                }

                _dcPred[ci] = (int)sum;
                Block(scan, b, offsets)[0] = unchecked((short)((uint)sum << al));
            }
        }

        if (_restartInterval != 0)
        {
            _restartsToGo--;
        }
    }

    /// <summary>jdphuff.c decode_mcu_DC_refine: one more bit of each DC value (zero bits past a marker change nothing).</summary>
    private void DecodeMcuDcRefine(JpegComponent[] scan, int blocksInMcu, ReadOnlySpan<int> offsets, int al)
    {
        if (_restartInterval != 0 && _restartsToGo == 0)
        {
            ProcessRestart();
        }

        short p1 = (short)(1 << al);
        for (int b = 0; b < blocksInMcu; b++)
        {
            if (GetBit() != 0)
            {
                Span<short> block = Block(scan, b, offsets);
                block[0] |= p1;
            }
        }

        if (_restartInterval != 0)
        {
            _restartsToGo--;
        }
    }

    /// <summary>jdphuff.c decode_mcu_AC_first: a band of one block, with end-of-band runs across blocks.</summary>
    private void DecodeMcuAcFirst(JpegComponent c, int offset, int ss, int se, int al)
    {
        if (_restartInterval != 0 && _restartsToGo == 0)
        {
            ProcessRestart();
        }

        if (!_insufficient)
        {
            if (_eobRun > 0)
            {
                _eobRun--;
            }
            else
            {
                Span<short> block = _multiScan ? c.Coefficients.AsSpan(offset, 64) : _mcuBuffer.AsSpan(0, 64);
                JpegDerivedTable table = c.AcDerived!;
                byte[] natural = JpegTables.NaturalOrder;
                for (int k = ss; k <= se; k++)
                {
                    int s = DecodeSymbol(table);
                    int r = s >> 4;
                    s &= 15;
                    if (s != 0)
                    {
                        k += r;
                        r = GetBits(s);
                        block[natural[k]] = unchecked((short)((uint)Extend(r, s) << al));
                    }
                    else if (r == 15)
                    {
                        k += 15;
                    }
                    else
                    {
                        int run = 1 << r;
                        if (r != 0)
                        {
                            run += GetBits(r);
                        }

                        _eobRun = run - 1;
                        break;
                    }
                }
            }
        }

        if (_restartInterval != 0)
        {
            _restartsToGo--;
        }
    }

    /// <summary>jdphuff.c decode_mcu_AC_refine: correction bits for coefficients already nonzero, new ±1 coefficients,
    /// and end-of-band runs (corrupt sizes other than 1 are taken as 1, as libjpeg does after warning).</summary>
    private void DecodeMcuAcRefine(JpegComponent c, int offset, int ss, int se, int al)
    {
        if (_restartInterval != 0 && _restartsToGo == 0)
        {
            ProcessRestart();
        }

        if (!_insufficient)
        {
            Span<short> block = _multiScan ? c.Coefficients.AsSpan(offset, 64) : _mcuBuffer.AsSpan(0, 64);
            JpegDerivedTable table = c.AcDerived!;
            byte[] natural = JpegTables.NaturalOrder;
            int p1 = 1 << al, m1 = -1 << al;
            int k = ss;
            if (_eobRun == 0)
            {
                for (; k <= se; k++)
                {
                    int s = DecodeSymbol(table);
                    int r = s >> 4;
                    s &= 15;
                    if (s != 0)
                    {
                        s = GetBit() != 0 ? p1 : m1;
                    }
                    else if (r != 15)
                    {
                        _eobRun = 1 << r;
                        if (r != 0)
                        {
                            _eobRun += GetBits(r);
                        }

                        break;
                    }

                    // Skip over already-nonzero coefficients (refining each) and r still-zero ones.
                    do
                    {
                        int pos = natural[k];
                        int coef = block[pos];
                        if (coef != 0)
                        {
                            if (GetBit() != 0 && (coef & p1) == 0)
                            {
                                block[pos] = unchecked((short)(coef >= 0 ? coef + p1 : coef + m1));
                            }
                        }
                        else if (--r < 0)
                        {
                            break;
                        }

                        k++;
                    }
                    while (k <= se);

                    if (s != 0)
                    {
                        block[natural[k]] = (short)s;
                    }
                }
            }

            if (_eobRun > 0)
            {
                // Inside an end-of-band run: only correction bits for the nonzero coefficients left in the band.
                for (; k <= se; k++)
                {
                    int pos = natural[k];
                    int coef = block[pos];
                    if (coef != 0 && GetBit() != 0 && (coef & p1) == 0)
                    {
                        block[pos] = unchecked((short)(coef >= 0 ? coef + p1 : coef + m1));
                    }
                }

                _eobRun--;
            }
        }

        if (_restartInterval != 0)
        {
            _restartsToGo--;
        }
    }
}
