// netstandard2.0 lacks the types that C# records and init-only setters compile against.
#if NETSTANDARD2_0
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
#endif
