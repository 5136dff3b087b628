using System.Runtime.CompilerServices;

// The kernel tests run every SIMD path (Vector512/256/128/scalar) on one machine through the internal SimdPath overloads.
[assembly: InternalsVisibleTo("ViTMAE.Compiled.Tests")]
