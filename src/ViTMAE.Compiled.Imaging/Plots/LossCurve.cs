using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using StbImageWriteSharp;

namespace ViTMAE.Compiled.Imaging.Plots;

/// <summary>
/// A training run's loss curve as a PNG: every step's loss in light blue, its moving average in dark blue, epoch
/// boundaries as faint vertical lines, labelled axes (step, loss). Drawn into an RGB buffer with a 5×7 bitmap font for
/// the tick labels.
/// </summary>
/// <remarks>Hand-written: no plotting or font package is served here, and a line chart is a few loops.</remarks>
public static class LossCurve
{
    private const int Width = 960, Height = 480, Left = 70, Right = 20, Top = 20, Bottom = 40;

    /// <summary>Renders <paramref name="losses"/> (one per step) and writes it to <paramref name="path"/>.</summary>
    /// <param name="losses">The loss of each step, in order (non-finite values are skipped).</param>
    /// <param name="stepsPerEpoch">Steps per epoch, for the epoch lines (0: none).</param>
    /// <param name="path">The PNG file to write (created or overwritten).</param>
    public static void Write(IReadOnlyList<double> losses, int stepsPerEpoch, string path)
    {
        ArgumentNullException.ThrowIfNull(losses);
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] rgb = Render(losses, stepsPerEpoch);
        using FileStream stream = File.Create(path);
        new ImageWriter().WritePng(rgb, Width, Height, ColorComponents.RedGreenBlue, stream);
    }

    /// <summary>The picture as RGB bytes, <see cref="Width"/> × <see cref="Height"/>.</summary>
    internal static byte[] Render(IReadOnlyList<double> losses, int stepsPerEpoch)
    {
        var rgb = new byte[Width * Height * 3];
        Array.Fill(rgb, (byte)255);
        int n = losses.Count;
        int window = Math.Max(1, n / 100);
        var average = new double[n];
        double sum = 0, max = 0, min = double.PositiveInfinity;
        int inWindow = 0;
        for (int i = 0; i < n; i++)
        {
            if (double.IsFinite(losses[i])) { sum += losses[i]; inWindow++; }
            if (i >= window && double.IsFinite(losses[i - window])) { sum -= losses[i - window]; inWindow--; }
            average[i] = inWindow > 0 ? sum / inWindow : double.NaN;
            if (double.IsFinite(average[i])) { max = Math.Max(max, average[i]); min = Math.Min(min, average[i]); }
        }

        // The y range follows the moving average (single noisy steps are clipped), from 0 or just below its minimum.
        double yMax = max > 0 ? max * 1.15 : 1, yMin = double.IsFinite(min) && min > 0.5 * max ? min * 0.9 : 0;
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        int X(double step) => Left + (int)Math.Round(step / Math.Max(1, n - 1) * (plotW - 1));
        int Y(double loss) => Top + plotH - 1 - (int)Math.Round((Math.Clamp(loss, yMin, yMax) - yMin) / (yMax - yMin) * (plotH - 1));

        // Grid, epoch lines and ticks.
        for (int t = 0; t <= 5; t++)
        {
            double value = yMin + ((yMax - yMin) * t / 5);
            HLine(rgb, Left, Width - Right, Y(value), 230, 230, 230);
            Text(rgb, Left - 6 - (Label(value).Length * 6), Y(value) - 3, Label(value));
        }

        if (stepsPerEpoch > 0 && n / stepsPerEpoch <= 200)
        {
            for (int e = stepsPerEpoch; e < n; e += stepsPerEpoch) VLine(rgb, X(e), Top, Top + plotH, 240, 225, 225);
        }

        for (int t = 0; t <= 5; t++)
        {
            long step = (long)Math.Round((double)(n - 1) * t / 5);
            string label = step.ToString(CultureInfo.InvariantCulture);
            Text(rgb, X(step) - (label.Length * 3), Top + plotH + 8, label);
        }

        HLine(rgb, Left, Width - Right, Top + plotH, 0, 0, 0);
        VLine(rgb, Left, Top, Top + plotH, 0, 0, 0);
        Text(rgb, (Width / 2) - 12, Height - 14, "step");
        Text(rgb, 4, Top, "loss");

        // Raw losses, then the average over them.
        for (int i = 1; i < n; i++)
        {
            if (double.IsFinite(losses[i - 1]) && double.IsFinite(losses[i])) Line(rgb, X(i - 1), Y(losses[i - 1]), X(i), Y(losses[i]), 170, 200, 240);
        }

        for (int i = 1; i < n; i++)
        {
            if (double.IsFinite(average[i - 1]) && double.IsFinite(average[i])) Line(rgb, X(i - 1), Y(average[i - 1]), X(i), Y(average[i]), 20, 60, 160);
        }

        return rgb;
    }

    private static string Label(double value) => value.ToString(value >= 10 ? "F0" : value >= 0.1 ? "F2" : "F4", CultureInfo.InvariantCulture);

    private static void Set(byte[] rgb, int x, int y, byte r, byte g, byte b)
    {
        if ((uint)x >= Width || (uint)y >= Height) return;
        int i = ((y * Width) + x) * 3;
        rgb[i] = r;
        rgb[i + 1] = g;
        rgb[i + 2] = b;
    }

    private static void HLine(byte[] rgb, int x0, int x1, int y, byte r, byte g, byte b)
    {
        for (int x = x0; x < x1; x++) Set(rgb, x, y, r, g, b);
    }

    private static void VLine(byte[] rgb, int x, int y0, int y1, byte r, byte g, byte b)
    {
        for (int y = y0; y < y1; y++) Set(rgb, x, y, r, g, b);
    }

    // Bresenham.
    private static void Line(byte[] rgb, int x0, int y0, int x1, int y1, byte r, byte g, byte b)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Set(rgb, x0, y0, r, g, b);
            if (x0 == x1 && y0 == y1) return;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    private static void Text(byte[] rgb, int x, int y, string text)
    {
        foreach (char c in text)
        {
            if (Glyphs.TryGetValue(c, out string? rows))
            {
                for (int row = 0; row < 7; row++)
                {
                    for (int col = 0; col < 5; col++)
                    {
                        if (rows[(row * 5) + col] == '#') Set(rgb, x + col, y + row, 60, 60, 60);
                    }
                }
            }

            x += 6;
        }
    }

    // 5×7 glyphs: seven rows of five columns each.
    private static readonly Dictionary<char, string> Glyphs = new()
    {
        ['0'] = " ### #   ##  ### # ###  ##   # ### ",
        ['1'] = "  #   ##    #    #    #    #   ### ",
        ['2'] = " ### #   #    #   #   #   #   #####",
        ['3'] = "#####   #   #     #     ##   # ### ",
        ['4'] = "   #   ##  # # #  # #####   #    # ",
        ['5'] = "######    ####     #    ##   # ### ",
        ['6'] = "  ##  #   #    #### #   ##   # ### ",
        ['7'] = "#####    #   #   #   #    #    #   ",
        ['8'] = " ### #   ##   # ### #   ##   # ### ",
        ['9'] = " ### #   ##   # ####    #   #  ##  ",
        ['.'] = "                          ##   ##  ",
        ['-'] = "               #####               ",
        ['s'] = "           #####     ###     ##### ",
        ['t'] = " #    #   ####  #    #    #  #  ## ",
        ['e'] = "           ### #   #######     ### ",
        ['p'] = "          #### #   ##### #    #    ",
        ['l'] = " ##    #    #    #    #    #   ### ",
        ['o'] = "           ### #   ##   ##   # ### ",
    };
}
