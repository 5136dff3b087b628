using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Text;
using StbImageWriteSharp;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Fuzz;

/// <summary>
/// The hand-made seed corpus (<c>--seeds corpus</c>): small valid and nearly-valid files of each input kind. The
/// committed files under corpus/ were written by this code; fuzz.sh adds the larger golden files from ../shared.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        WriteSafetensors(Path.Combine(root, "safetensors"));
        WriteConfigs(Path.Combine(root, "config"));
        WriteImages(Path.Combine(root, "image"));
    }

    // ---- safetensors ---------------------------------------------------------------------------------------------

    private static void WriteSafetensors(string dir)
    {
        Directory.CreateDirectory(dir);

        // One tensor of every dtype (shapes chosen so that the sub-byte formats fill whole bytes).
        foreach (DType dtype in Enum.GetValues<DType>())
        {
            int bits = dtype.BitSize();
            int elements = bits switch { 4 => 2, 6 => 4, _ => 3 };
            var data = new byte[elements * bits / 8];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)((i * 37) + 0x3C);
            }

            if (dtype == DType.Bool)
            {
                data = [1, 0, 1];
            }

            Save(dir, $"dtype-{dtype.ToSafeTensorsName()}.safetensors", new SafeTensorsWriter().AddRaw("t", dtype, data, elements).ToArray());
        }

        Save(dir, "mixed.safetensors", new SafeTensorsWriter()
            .AddFloat32("vit.embeddings.cls_token", [1f, -2f, 3.5f, 0f], 1, 1, 4)
            .AddRaw("vit.embeddings.patch_embeddings.projection.bias", DType.BF16, [0x80, 0x3F, 0x00, 0xC0], 2)
            .AddRaw("decoder.decoder_pred.bias", DType.F16, [0x00, 0x3C, 0xFF, 0x7B], 2)
            .AddInt64("ids_restore", [3, 1, 0, 2], 4)
            .AddUInt8("mask", [1, 0, 1, 1], 2, 2)
            .AddMetadata("format", "pt")
            .ToArray());
        Save(dir, "bare-encoder-keys.safetensors", new SafeTensorsWriter()
            .AddFloat32("embeddings.cls_token", [1f, 2f], 1, 1, 2)
            .AddFloat32("encoder.layer.0.attention.attention.query.weight", [1f, 0f, 0f, 1f], 2, 2)
            .ToArray());
        Save(dir, "scalar-and-empty.safetensors", new SafeTensorsWriter()
            .AddFloat32("scalar", [42f])
            .AddFloat32("empty", [], 0, 3)
            .ToArray());
        Save(dir, "no-tensors.safetensors", Raw("{}", []));
        Save(dir, "metadata-only.safetensors", Raw("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"\\u00e9\\n\"}}", []));
        Save(dir, "metadata-null.safetensors", Raw("{\"__metadata__\":null,\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", [7, 0, 0, 0]));

        // Hand-laid headers: unaligned F32 data, a gap between tensors, padding spaces after the JSON, escaped names.
        Save(dir, "unaligned-gap.safetensors", Raw(
            "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[5,13]},\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[1,3]}}   ",
            [0xEE, 0x80, 0x3F, 0xEE, 0xEE, 0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]));
        Save(dir, "escaped-names.safetensors", Raw(
            "{\"vit.\\u0065mbeddings.cls_token\":{\"dtype\":\"F16\",\"shape\":[1,1,1],\"data_offsets\":[0,2]},\"\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[2,3]}}",
            [0x00, 0x3C, 9]));
        Save(dir, "large-dims-zero.safetensors", Raw(
            "{\"z\":{\"dtype\":\"F64\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,0]}}", []));

        // Sharded indexes (the first byte '{' makes the target open them as model.safetensors.index.json beside the
        // workspace's shards).
        string s1 = FuzzTargets.ShardNames[0], s2 = FuzzTargets.ShardNames[1];
        Save(dir, "index-two-shards.json", Encoding.UTF8.GetBytes(
            "{\"metadata\":{\"total_size\":30},\"weight_map\":{" +
            $"\"vit.embeddings.cls_token\":\"{s1}\",\"vit.embeddings.patch_embeddings.projection.bias\":\"{s1}\"," +
            $"\"decoder.decoder_embed.weight\":\"{s2}\",\"ids_restore\":\"{s2}\",\"mask\":\"{s2}\"}}}}"));
        Save(dir, "index-subset.json", Encoding.UTF8.GetBytes(
            $"{{\"weight_map\":{{\"ids_restore\":\"./{s2}\"}},\"metadata\":{{\"format\":\"pt\",\"n\":[1,2]}}}}"));
        Save(dir, "index-missing-tensor.json", Encoding.UTF8.GetBytes($"{{\"weight_map\":{{\"nope\":\"{s1}\"}}}}"));
        Save(dir, "index-missing-shard.json", Encoding.UTF8.GetBytes("{\"weight_map\":{\"a\":\"model-00003-of-00002.safetensors\"}}"));
        Save(dir, "index-truncated-shard.json", Encoding.UTF8.GetBytes($"{{\"weight_map\":{{\"x\":\"{FuzzTargets.TruncatedShardName}\"}}}}"));
        Save(dir, "index-outside.json", Encoding.UTF8.GetBytes("{\"weight_map\":{\"a\":\"../single/model.safetensors\",\"b\":\"/etc/hostname\"}}"));
    }

    /// <summary>A safetensors file from a header text and a data section, exactly as given.</summary>
    private static byte[] Raw(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    // ---- configs -------------------------------------------------------------------------------------------------

    private static void WriteConfigs(string dir)
    {
        Directory.CreateDirectory(dir);
        Save(dir, "empty-object.json", "{}"u8.ToArray());
        Save(dir, "pairs.json", Encoding.UTF8.GetBytes(
            "{\"model_type\":\"vit_mae\",\"image_size\":[32,32],\"patch_size\":[8,8],\"hidden_size\":64,\"num_attention_heads\":4," +
            "\"intermediate_size\":128,\"num_hidden_layers\":1,\"decoder_hidden_size\":32,\"decoder_num_attention_heads\":4," +
            "\"decoder_intermediate_size\":64,\"decoder_num_hidden_layers\":1,\"mask_ratio\":0.0,\"hidden_act\":\"gelu_new\"," +
            "\"qkv_bias\":false,\"norm_pix_loss\":true,\"layer_norm_eps\":1e-6,\"num_channels\":1}"));
        Save(dir, "python-floats.json", Encoding.UTF8.GetBytes(
            "\uFEFF{\n  \"hidden_dropout_prob\": NaN,\n  \"initializer_range\": -Infinity,\n  \"attention_probs_dropout_prob\": Infinity,\n" +
            "  \"mask_ratio\": 0.999, \"image_size\": 224, \"patch_size\": 16, \"label\": \"\\u00e9\\t\\\"x\\\"\"\n}\n"));
        Save(dir, "wrong-types.json", Encoding.UTF8.GetBytes(
            "{\"model_type\":\"vit\",\"hidden_size\":768.0,\"num_hidden_layers\":\"12\",\"image_size\":[224],\"patch_size\":[16,15]," +
            "\"qkv_bias\":1,\"hidden_act\":\"swish\",\"mask_ratio\":1,\"num_channels\":-3,\"decoder_hidden_size\":2147483648," +
            "\"nested\":{\"a\":[[[]]],\"b\":null,\"c\":true}}"));
        Save(dir, "preprocessor.json", Encoding.UTF8.GetBytes(
            "{\"do_normalize\":true,\"do_rescale\":true,\"do_resize\":true,\"image_mean\":[0.485,0.456,0.406]," +
            "\"image_processor_type\":\"ViTImageProcessor\",\"image_std\":[0.229,0.224,0.225],\"resample\":3," +
            "\"rescale_factor\":0.00392156862745098,\"size\":{\"height\":8,\"width\":6}, // comment\n}"));
        Save(dir, "preprocessor-legacy.json", Encoding.UTF8.GetBytes(
            "{\"size\":[4,4],\"image_mean\":0.5,\"image_std\":[0.5],\"resample\":2,\"do_rescale\":false,\"feature_extractor_type\":\"ViTFeatureExtractor\"}"));

        // Copies of the repository's own configs and the golden ones (all below 1 KB).
        string repo = TestSupport.RepoPaths.RepoRoot;
        CopyIfExists(Path.Combine(repo, "samples", "configs", "vit-mae-base.json"), dir, "vit-mae-base.json");
        CopyIfExists(Path.Combine(TestSupport.RepoPaths.GoldenRoot, "tiny-default", "config.json"), dir, "golden-tiny.json");
        CopyIfExists(Path.Combine(TestSupport.RepoPaths.GoldenRoot, "small-odd-default", "config.json"), dir, "golden-small-odd.json");
    }

    // ---- images --------------------------------------------------------------------------------------------------

    private static void WriteImages(string dir)
    {
        Directory.CreateDirectory(dir);
        byte[] rgb4x3 = new byte[4 * 3 * 3];
        for (int i = 0; i < rgb4x3.Length; i++)
        {
            rgb4x3[i] = (byte)(i * 23);
        }

        // PNG: every colour type, sub-byte and 16-bit depths, a palette with tRNS, Adam7, and one without IEND.
        Save(dir, "rgb8.png", Png(4, 3, 2, 8, Filtered(rgb4x3, 4 * 3, 3)));
        Save(dir, "rgba8-adam7.png", Png(1, 1, 6, 8, [0, 10, 20, 30, 40], interlace: 1));
        Save(dir, "grey16.png", Png(2, 2, 0, 16, [0, 0x01, 0x2C, 0x00, 0x7F, 0, 0x00, 0xC8, 0xFF, 0xFF]));
        Save(dir, "grey1.png", Png(9, 1, 0, 1, [0, 0b1010_1100, 0b1000_0000]));
        Save(dir, "greyalpha8.png", Png(2, 1, 4, 8, [1, 10, 255, 200, 0]));
        Save(dir, "rgb16.png", Png(1, 1, 2, 16, [0, 1, 2, 3, 4, 5, 6]));
        Save(dir, "palette4-trns.png", Png(3, 1, 3, 4, [0, 0x01, 0x20],
            extra: [("PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255]), ("tRNS", [0, 128])]));
        byte[] noIend = Png(2, 1, 0, 8, [0, 7, 9]);
        Save(dir, "no-iend.png", noIend.AsSpan(0, noIend.Length - 12).ToArray());

        // BMP: core header, 24-bit bottom-up, 24-bit top-down, 8-bit palette, 16-bit and 32-bit bit fields (V4 header).
        Save(dir, "core24.bmp", Bmp(2, 2, 24, 12, Pixels(2, 2, 24)));
        Save(dir, "rgb24.bmp", Bmp(3, 2, 24, 40, Pixels(3, 2, 24)));
        Save(dir, "rgb24-topdown.bmp", Bmp(3, -2, 24, 40, Pixels(3, 2, 24)));
        Save(dir, "palette8.bmp", Bmp(2, 2, 8, 40, Pixels(2, 2, 8), palette: [0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 9, 9, 9, 0]));
        Save(dir, "palette1.bmp", Bmp(9, 1, 1, 40, Pixels(9, 1, 1), palette: [0, 0, 0, 0, 255, 255, 255, 0]));
        Save(dir, "rgb565.bmp", Bmp(2, 1, 16, 40, Pixels(2, 1, 16), masks: [0xF800, 0x07E0, 0x001F]));
        Save(dir, "bgra32-v4.bmp", Bmp(2, 1, 32, 108, Pixels(2, 1, 32), masks: [0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000]));

        // GIF: global palette with a transparent index and an offset frame; local palette, interlaced.
        Save(dir, "global-transparent.gif", Gif(4, 3, [1, 0, 2, 3], frame: (1, 1, 2, 2), indices: [0, 1, 2, 3], transparent: 1, localTable: false, interlaced: false));
        Save(dir, "local-interlaced.gif", Gif(2, 4, [0, 1, 2, 3], frame: (0, 0, 2, 4), indices: [0, 1, 2, 3, 3, 2, 1, 0], transparent: -1, localTable: true, interlaced: true));

        // JPEG: stb's baseline encoder, colour and grey.
        Save(dir, "rgb-16x8.jpg", Jpeg(16, 8, ColorComponents.RedGreenBlue));
        Save(dir, "grey-8x8.jpg", Jpeg(8, 8, ColorComponents.Grey));
    }

    private static byte[] Png(int width, int height, byte colorType, byte bitDepth, byte[] filteredRows, byte interlace = 0,
        (string Type, byte[] Data)[]? extra = null)
    {
        using var o = new MemoryStream();
        o.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colorType;
        ihdr[12] = interlace;
        Chunk(o, "IHDR", ihdr);
        foreach ((string type, byte[] data) in extra ?? [])
        {
            Chunk(o, type, data);
        }

        using var z = new MemoryStream();
        using (var deflate = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(filteredRows);
        }

        Chunk(o, "IDAT", z.ToArray());
        Chunk(o, "IEND", []);
        return o.ToArray();
    }

    /// <summary>Rows with filter type 0 prepended (the rows are <paramref name="rowBytes"/> long).</summary>
    private static byte[] Filtered(byte[] pixels, int rowBytes, int rows)
    {
        var result = new byte[rows * (rowBytes + 1)];
        for (int y = 0; y < rows; y++)
        {
            pixels.AsSpan(y * rowBytes, rowBytes).CopyTo(result.AsSpan((y * (rowBytes + 1)) + 1));
        }

        return result;
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        output.Write(header);
        output.Write(data);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in (byte[])[.. header.AsSpan(4), .. data])
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        var crcBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, ~crc);
        output.Write(crcBytes);
    }

    /// <summary>Bottom-up (or top-down for a negative height) rows of <paramref name="bpp"/>-bit pixels, padded to 4 bytes.</summary>
    private static byte[] Pixels(int width, int height, int bpp)
    {
        int rowBytes = ((width * bpp) + 31) / 32 * 4;
        var data = new byte[rowBytes * height];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)((i * 53) + 11);
        }

        if (bpp <= 8)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] &= (byte)(bpp == 8 ? 3 : 0xFF);
            }
        }

        return data;
    }

    private static byte[] Bmp(int width, int height, int bpp, int dibSize, byte[] pixels, byte[]? palette = null, uint[]? masks = null)
    {
        palette ??= [];
        int maskBytes = masks is not null && dibSize == 40 ? 12 : 0;
        int offBits = 14 + dibSize + maskBytes + palette.Length;
        var b = new byte[offBits + pixels.Length];
        b[0] = (byte)'B';
        b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), offBits);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), dibSize);
        if (dibSize == 12)
        {
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(18), (short)width);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(20), (short)height);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(22), 1);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(24), (short)bpp);
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), (short)bpp);
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(30), masks is null ? 0 : 3);
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), pixels.Length);
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(46), palette.Length / 4);
            if (masks is not null)
            {
                for (int i = 0; i < masks.Length; i++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(54 + (4 * i)), masks[i]);
                }
            }
        }

        palette.CopyTo(b, 14 + dibSize + maskBytes);
        pixels.CopyTo(b, offBits);
        return b;
    }

    /// <summary>A one-frame GIF89a with a 4-colour table (global or local); LZW with 3-bit codes and a clear code every 2 pixels.</summary>
    private static byte[] Gif(int width, int height, byte[] colours, (int Left, int Top, int Width, int Height) frame, byte[] indices,
        int transparent, bool localTable, bool interlaced)
    {
        byte[] table = new byte[12];
        for (int i = 0; i < 4; i++)
        {
            table[3 * i] = (byte)(colours[i] * 80);
            table[(3 * i) + 1] = (byte)(255 - (colours[i] * 60));
            table[(3 * i) + 2] = (byte)(colours[i] * 30);
        }

        using var o = new MemoryStream();
        o.Write("GIF89a"u8);
        WriteU16(o, width);
        WriteU16(o, height);
        o.WriteByte(localTable ? (byte)0x01 : (byte)0x81);
        o.WriteByte(3); // background index (the decoder ignores it)
        o.WriteByte(0);
        if (!localTable)
        {
            o.Write(table);
        }

        o.Write([0x21, 0xFE, 3, (byte)'s', (byte)'e', (byte)'d', 0]); // comment extension
        if (transparent >= 0)
        {
            o.Write([0x21, 0xF9, 4, 0x01, 0, 0, (byte)transparent, 0]);
        }

        o.WriteByte(0x2C);
        WriteU16(o, frame.Left);
        WriteU16(o, frame.Top);
        WriteU16(o, frame.Width);
        WriteU16(o, frame.Height);
        o.WriteByte((byte)((localTable ? 0x81 : 0) | (interlaced ? 0x40 : 0)));
        if (localTable)
        {
            o.Write(table);
        }

        o.WriteByte(2); // LZW minimum code size: clear = 4, end = 5, 3-bit codes until the table reaches 8
        var codes = new List<int> { 4 };
        for (int i = 0; i < indices.Length; i++)
        {
            if (i > 0 && i % 2 == 0)
            {
                codes.Add(4);
            }

            codes.Add(indices[i]);
        }

        codes.Add(5);
        var packed = new List<byte>();
        int acc = 0, bits = 0;
        foreach (int code in codes)
        {
            acc |= code << bits;
            bits += 3;
            while (bits >= 8)
            {
                packed.Add((byte)acc);
                acc >>= 8;
                bits -= 8;
            }
        }

        if (bits > 0)
        {
            packed.Add((byte)acc);
        }

        o.WriteByte((byte)packed.Count);
        o.Write(packed.ToArray());
        o.WriteByte(0);
        o.WriteByte(0x3B);
        return o.ToArray();
    }

    private static void WriteU16(Stream s, int v)
    {
        s.WriteByte((byte)v);
        s.WriteByte((byte)(v >> 8));
    }

    private static byte[] Jpeg(int width, int height, ColorComponents components)
    {
        int channels = components == ColorComponents.Grey ? 1 : 3;
        var pixels = new byte[width * height * channels];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 29) ^ (i >> 3));
        }

        using var o = new MemoryStream();
        new ImageWriter().WriteJpg(pixels, width, height, components, o, 75);
        return o.ToArray();
    }

    private static void Save(string dir, string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(dir, name), bytes);

    private static void CopyIfExists(string source, string dir, string name)
    {
        if (File.Exists(source))
        {
            File.Copy(source, Path.Combine(dir, name), overwrite: true);
        }
        else
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeds: {source} not found, skipped"));
        }
    }
}
