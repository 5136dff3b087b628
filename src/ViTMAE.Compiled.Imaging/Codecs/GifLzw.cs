using System;
using System.Runtime.CompilerServices;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>
/// GIF's variable-length LZW, decoding a sub-block chain into a pixel sink until the sink is full. Bounded: a fixed
/// 4096-entry table and string stack, no allocation that depends on the data, one code's string (at most 4097 pixels)
/// per output call, and the sink stops the decoder at the frame's pixel count.
/// </summary>
/// <remarks>
/// The code semantics are PIL 9.4's (<c>GifDecode.c</c>), checked with python3-pil on hand-made streams:
/// <list type="bullet">
/// <item>Minimum code size <c>b</c> in 0..12: clear = 2^b, end = clear + 1, codes start at b + 1 bits; the first
/// table entry is clear + 2. A literal code (below clear) is a pixel; for b above 8 its low byte is stored (PIL keeps
/// pixels in bytes).</item>
/// <item>After a clear code (and at the start, which needs no clear code), the first code must be a literal, else
/// the data is corrupt. Later codes may be at most the next free entry (equal is the KwKwK case); above it is
/// corrupt.</item>
/// <item>An entry is added for every code after the first, while the table has room (4096 entries); the code size
/// grows when the entry just added is 2^size − 1 and size is below 12. A full table keeps its 12-bit codes until a
/// clear code comes (the deferred clear).</item>
/// <item>The end code ends the data (PIL stops decoding there; a frame still short of pixels is truncated).</item>
/// <item>Sub-blocks: a zero-length one ends the data; one that the file cuts short is not used at all (PIL decodes
/// a sub-block only once all of it is there).</item>
/// </list>
/// </remarks>
internal static class GifLzw
{
    private const int TableSize = 4096;

    /// <summary>How decoding stopped.</summary>
    public enum Result
    {
        /// <summary>The sink is full.</summary>
        Complete,

        /// <summary>The end code came before the sink was full.</summary>
        EndCode,

        /// <summary>The data ran out (zero-length sub-block, cut sub-block or end of file) before the sink was full.</summary>
        OutOfData,

        /// <summary>A code that is not defined.</summary>
        InvalidCode,
    }

    /// <summary>Receives pixel indices in stream order.</summary>
    public interface IPixelSink
    {
        /// <summary>Takes the pixels of one code; false when the frame is complete (the rest is not wanted).</summary>
        bool Put(ReadOnlySpan<byte> indices);
    }

    /// <summary>Decodes the sub-block chain starting at <paramref name="pos"/> (its first size byte).</summary>
    // Hot loops run once per image: compile them optimised at once rather than through tier 0 (seconds on large images).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Result Decode<TSink>(byte[] data, int pos, int minCodeSize, ref TSink sink)
        where TSink : struct, IPixelSink
    {
        if (minCodeSize is < 0 or > 12)
        {
            return Result.InvalidCode;
        }

        int clear = 1 << minCodeSize, end = clear + 1;
        Span<ushort> prefix = stackalloc ushort[TableSize];
        Span<byte> suffix = stackalloc byte[TableSize];
        Span<byte> stack = stackalloc byte[TableSize + 1];

        int codeSize = minCodeSize + 1, next = clear + 2;
        int last = -1; // previous code; -1 right after a clear (or at the start)
        byte lastFirst = 0; // first pixel of the previous code's string
        uint bits = 0;
        int bitCount = 0, blockLeft = 0;
        while (true)
        {
            while (bitCount < codeSize)
            {
                if (blockLeft == 0)
                {
                    if (pos >= data.Length)
                    {
                        return Result.OutOfData;
                    }

                    blockLeft = data[pos];
                    if (blockLeft == 0 || blockLeft > data.Length - pos - 1)
                    {
                        return Result.OutOfData;
                    }

                    pos++;
                }

                bits |= (uint)data[pos++] << bitCount;
                bitCount += 8;
                blockLeft--;
            }

            int code = (int)(bits & ((1u << codeSize) - 1));
            bits >>= codeSize;
            bitCount -= codeSize;

            if (code == clear)
            {
                codeSize = minCodeSize + 1;
                next = clear + 2;
                last = -1;
                continue;
            }

            if (code == end)
            {
                return Result.EndCode;
            }

            if (last < 0)
            {
                if (code > clear)
                {
                    return Result.InvalidCode;
                }

                lastFirst = (byte)code;
                last = code;
                stack[^1] = lastFirst;
                if (!sink.Put(stack[^1..]))
                {
                    return Result.Complete;
                }

                continue;
            }

            if (code > next)
            {
                return Result.InvalidCode;
            }

            // Unwind the string into the stack, last pixel first.
            int top = stack.Length;
            int c = code;
            if (code == next)
            {
                stack[--top] = lastFirst;
                c = last;
            }

            while (c >= clear)
            {
                if (top == 0 || c >= TableSize)
                {
                    return Result.InvalidCode;
                }

                stack[--top] = suffix[c];
                c = prefix[c];
            }

            byte first = (byte)c;
            stack[--top] = first;
            if (next < TableSize)
            {
                prefix[next] = (ushort)last;
                suffix[next] = first;
                if (next == (1 << codeSize) - 1 && codeSize < 12)
                {
                    codeSize++;
                }

                next++;
            }

            last = code;
            lastFirst = first;
            if (!sink.Put(stack[top..]))
            {
                return Result.Complete;
            }
        }
    }
}
