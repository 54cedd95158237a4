// netstandard2.0 lacks the types C# 9+ records and init accessors need; the compiler only looks them up by name.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
