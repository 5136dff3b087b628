using System;
using System.Buffers.Binary;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>
/// Mutated files either open (and then every tensor reads) or fail with <see cref="WeightsFormatException"/>:
/// no other exception, no out-of-bounds read, whatever the bytes.
/// </summary>
public sealed class SafeTensorsFuzzTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Random_mutations_never_escape_as_anything_but_a_format_error()
    {
        byte[] valid = new SafeTensorsWriter()
            .AddFloat32("vit.embeddings.cls_token", [1f, 2f, 3f, 4f], 1, 1, 4)
            .AddRaw("h", DType.BF16, [0x80, 0x3F, 0, 0xC0], 2)
            .AddInt64("ids", [3L, 1L], 2)
            .AddUInt8("m", [1], 1)
            .AddMetadata("format", "pt")
            .ToArray();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        var random = new Random(12345);
        string path = _dir.File("fuzz.safetensors");
        int opened = 0, rejected = 0;

        for (int iteration = 0; iteration < 1500; iteration++)
        {
            byte[] bytes = (byte[])valid.Clone();
            switch (iteration % 4)
            {
                case 0: // flip bytes in the header
                    for (int k = random.Next(1, 4); k > 0; k--)
                    {
                        bytes[random.Next(8, headerEnd)] = (byte)random.Next(256);
                    }

                    break;
                case 1: // replace a header character with a digit or JSON punctuation
                    bytes[random.Next(8, headerEnd)] = (byte)"0123456789[]{}\",:-"[random.Next(18)];
                    break;
                case 2: // truncate anywhere
                    Array.Resize(ref bytes, random.Next(bytes.Length));
                    break;
                default: // corrupt the length prefix
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes, random.Next(3) switch
                    {
                        0 => (ulong)random.Next(bytes.Length + 16),
                        1 => (ulong)random.NextInt64() << random.Next(2),
                        _ => (ulong)(headerEnd - 8) ^ (1UL << random.Next(64)),
                    });
                    break;
            }

            System.IO.File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafeTensorsFile.Open(path);
                foreach (TensorInfo info in file.Tensors.Values)
                {
                    Assert.Equal(info.ByteLength, file.GetBytes(info.Name).Length);
                    try
                    {
                        file.ReadFloat32(info.Name);
                    }
                    catch (UnsupportedDTypeException)
                    {
                    }
                }

                opened++;
            }
            catch (WeightsFormatException)
            {
                rejected++;
            }
        }

        Assert.True(opened > 0 && rejected > 0, $"opened {opened}, rejected {rejected}");
    }
}
