using System;
using System.Runtime.InteropServices;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Zeroed native memory for packed weights: 64-byte aligned, and on Linux 2 MB aligned with transparent huge pages
/// requested (<c>madvise(MADV_HUGEPAGE)</c>) for the whole 2 MB blocks it spans. The GEMMs stream every weight from
/// memory once per forward; with 4 KB pages that stream misses the TLB every 4 KB (32 k-steps of a 32-wide panel),
/// and the hardware prefetchers stop at each page boundary. Measured on the Zen 4 machine of docs/BENCHMARKS.md,
/// alternating both layouts in one process over 12 layers' weights: the masked encoder's GEMMs (M = 50) 2–9 % faster
/// on one thread and 10–20 % on two, the decoder's 1–3 % (whole forward: within the machine's noise, ≈ 2 %).
/// Hand-written because neither the GC heap (no alignment or madvise control) nor <see cref="NativeMemory"/> (no
/// huge-page advice) offers this. Where huge pages are unavailable (other systems, THP disabled) the advice is simply
/// not taken: only speed depends on it.
/// </summary>
/// <remarks>
/// Freed by the finalizer (a <see cref="SafeHandle"/>, so it runs even under memory pressure) or by
/// <see cref="SafeHandle.Dispose()"/>. The memory is reported to the GC with <see cref="GC.AddMemoryPressure"/>.
/// Only the 2 MB blocks entirely inside the buffer are advised, so a buffer's tail never pulls in a whole huge page
/// beyond its own bytes.
/// </remarks>
internal sealed unsafe class AlignedBuffer : SafeHandle
{
    private const nuint HugePage = 2u << 20;
    private const int MadviseHugePage = 14; // MADV_HUGEPAGE, linux/mman.h

    /// <summary>Allocates <paramref name="floats"/> zeroed floats.</summary>
    public AlignedBuffer(long floats)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(floats);
        Length = floats;
        nuint bytes = Bytes;
        bool huge = OperatingSystem.IsLinux() && bytes >= HugePage;
        void* p = NativeMemory.AlignedAlloc(bytes, huge ? HugePage : 64);
        SetHandle((IntPtr)p);
        if (huge)
        {
            Madvise.HugePages(p, bytes / HugePage * HugePage);
        }

        NativeMemory.Clear(p, bytes);
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>The first float.</summary>
    public float* Pointer => (float*)handle;

    /// <summary>Number of floats.</summary>
    public long Length { get; }

    private nuint Bytes => checked((nuint)Length * sizeof(float));

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure((long)Bytes);
        return true;
    }

    /// <summary>
    /// madvise from the C library the process already has loaded, looked up once (no library name to guess: glibc and
    /// musl both export it from the main program's global scope). Absent or failing, nothing happens.
    /// </summary>
    private static class Madvise
    {
        private static readonly delegate* unmanaged<void*, nuint, int, int> Function = Find();

        public static void HugePages(void* start, nuint length)
        {
            if (Function != null && length > 0)
            {
                _ = Function(start, length, MadviseHugePage);
            }
        }

        private static delegate* unmanaged<void*, nuint, int, int> Find()
        {
            try
            {
                return NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "madvise", out IntPtr f)
                    ? (delegate* unmanaged<void*, nuint, int, int>)f
                    : null;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or PlatformNotSupportedException)
            {
                return null;
            }
        }
    }
}
