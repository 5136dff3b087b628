#!/usr/bin/env python3
"""Writes the PNG/GIF/BMP decoder fixtures and what PIL 9.4 makes of them.

Run with Debian 12's python3-pil (9.4.0):  python3 make_fixtures.py  (from this folder; rewrites everything in it).
For each fixture NAME.{png,gif,bmp} it writes NAME.EXT.rgb (u32 LE width, u32 LE height, then the pixels of
Image.open(NAME.EXT).convert("RGB")) when PIL decodes it, or NAME.EXT.err (PIL's exception) when PIL refuses it.
The files are built by hand (not by PIL's encoders) so that every colour type, bit depth, filter, interlacing,
palette quirk and header variant is covered, plus a few files PIL itself wrote. Deterministic (fixed seeds).
"""
import io, os, random, struct, zlib, glob
import PIL
from PIL import Image

assert PIL.__version__ == "9.4.0", PIL.__version__
HERE = os.path.dirname(os.path.abspath(__file__))

def write(name, data):
    for old in glob.glob(os.path.join(HERE, name + ".*")):
        if old != os.path.join(HERE, name):
            os.remove(old)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    try:
        im = Image.open(os.path.join(HERE, name))
        rgb = im.convert("RGB")
        out = struct.pack("<II", rgb.size[0], rgb.size[1]) + rgb.tobytes()
        with open(os.path.join(HERE, name + ".rgb"), "wb") as f:
            f.write(out)
    except Exception as e:  # PIL refuses the file: record why
        with open(os.path.join(HERE, name + ".err"), "w") as f:
            f.write(f"{type(e).__name__}: {e}\n".replace(HERE, "."))

# ------------------------------------------------------------------ PNG
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

def filter_rows(rows, bpp, rng):
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for row in rows:
        ft = rng.randrange(5)
        f = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f.append((x - p) & 255)
        out.append(ft)
        out += f
        prev = row
    return bytes(out)

def pack_row(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out = bytearray((len(samples) * depth + 7) // 8)
    for i, s in enumerate(samples):
        bit = i * depth
        out[bit // 8] |= s << (8 - depth - bit % 8)
    return bytes(out)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

def png_raw(w, h, ct, depth, samples, interlace, rng):
    ch = CHANNELS[ct]
    bpp = max(1, ch * depth // 8)
    def px(x, y):
        return samples[(y * w + x) * ch:(y * w + x + 1) * ch]
    if not interlace:
        rows = [pack_row([s for x in range(w) for s in px(x, y)], depth) for y in range(h)]
        return filter_rows(rows, bpp, rng)
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        xs, ys = list(range(x0, w, dx)), list(range(y0, h, dy))
        if xs and ys:
            rows = [pack_row([s for x in xs for s in px(x, y)], depth) for y in ys]
            raw += filter_rows(rows, bpp, rng)
    return raw

def png(w, h, ct, depth, raw, plte=None, interlace=0, extra=b"", idat_parts=None, iend=True, ihdr=None):
    ih = ihdr if ihdr is not None else struct.pack(">IIBBBBB", w, h, depth, ct, 0, 0, interlace)
    s = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ih)
    if plte is not None:
        s += chunk(b"PLTE", plte)
    s += extra
    z = zlib.compress(raw, 9)
    parts = idat_parts(z) if idat_parts else [z]
    for p in parts:
        s += chunk(b"IDAT", p)
    if iend:
        s += chunk(b"IEND", b"")
    return s

def png_cases():
    rng = random.Random(1)
    for ct, depths in [(0, [1, 2, 4, 8, 16]), (2, [8, 16]), (3, [1, 2, 4, 8]), (4, [8, 16]), (6, [8, 16])]:
        for depth in depths:
            for interlace in (0, 1):
                for (w, h) in [(13, 7), (1, 1), (3, 10)]:
                    if (w, h) != (13, 7) and not interlace:
                        continue
                    n = w * h * CHANNELS[ct]
                    top = (1 << depth) - 1
                    if ct == 3:
                        top = min(top, 40)  # also indices past the 24-entry palette below
                    samples = [rng.randint(0, top) for _ in range(n)]
                    if ct == 0 and depth == 16:
                        samples = [rng.choice([rng.randint(0, 255), rng.randint(0, 65535)]) for _ in range(n)]
                    plte = bytes(rng.randrange(256) for _ in range(24 * 3)) if ct == 3 else None
                    raw = png_raw(w, h, ct, depth, samples, interlace, rng)
                    write(f"png_c{ct}_d{depth}_{'adam7' if interlace else 'flat'}_{w}x{h}.png",
                          png(w, h, ct, depth, raw, plte, interlace))
    raw = png_raw(5, 4, 2, 8, [rng.randrange(256) for _ in range(60)], 0, rng)
    write("png_split_idat.png", png(5, 4, 2, 8, raw, idat_parts=lambda z: [z[:3], b"", z[3:10], z[10:]]))
    write("png_no_iend.png", png(5, 4, 2, 8, raw, iend=False))
    write("png_ihdr_14_bytes.png", png(5, 4, 2, 8, raw, ihdr=struct.pack(">IIBBBBBB", 5, 4, 8, 2, 0, 0, 0, 0)))
    write("png_ancillary_chunks.png", png(5, 4, 2, 8, raw, extra=chunk(b"tEXt", b"k\x00v") + chunk(b"prVt", b"xyz")))
    praw = png_raw(4, 2, 3, 8, [0, 1, 2, 3, 4, 5, 6, 7], 0, rng)
    write("png_palette_short.png", png(4, 2, 3, 8, praw, plte=bytes([10, 20, 30, 40, 50, 60, 70])))
    write("png_palette_missing.png", png(4, 2, 3, 8, praw))
    write("png_palette_257.png", png(4, 2, 3, 8, praw, plte=bytes(257 * 3)))
    write("png_palette_for_rgb.png", png(5, 4, 2, 8, raw, plte=bytes([1, 2, 3])))
    write("png_interlace_2.png", png(5, 4, 2, 8, png_raw(5, 4, 2, 8, list(range(60)), 1, rng), interlace=2))
    bad = bytearray(png(5, 4, 2, 8, raw, extra=chunk(b"tEXt", b"k\x00v")))
    bad[bad.find(b"tEXt") + 7] ^= 1  # CRC of an ancillary chunk before IDAT
    write("png_bad_text_crc.png", bytes(bad))
    bad = bytearray(png(5, 4, 2, 8, raw))
    i = bad.find(b"IDAT"); n = struct.unpack(">I", bad[i - 4:i])[0]
    bad[i + 4 + n] ^= 1  # CRC of IDAT: PIL does not check it
    write("png_bad_idat_crc.png", bytes(bad))
    write("png_filter_5.png", png(2, 1, 2, 8, None or bytes([5, 1, 2, 3, 4, 5, 6])))
    write("png_extra_zlib_data.png", png(2, 1, 2, 8, bytes([0, 1, 2, 3, 4, 5, 6]) + bytes(100)))
    write("png_short_zlib_data.png", png(2, 2, 2, 8, bytes([0, 1, 2, 3, 4, 5, 6])))
    z = zlib.compress(bytes([0, 1, 2, 3, 4, 5, 6]))
    write("png_zlib_no_adler.png", png(2, 1, 2, 8, b"", idat_parts=lambda _: [z[:-4]]))
    write("png_zlib_bad_adler.png", png(2, 1, 2, 8, b"", idat_parts=lambda _: [z[:-1] + bytes([z[-1] ^ 1])]))
    write("png_empty_idat.png", png(2, 1, 2, 8, b"", idat_parts=lambda _: [b""]))
    write("png_idat_split_by_text.png", png(5, 4, 2, 8, raw, idat_parts=lambda zz: [zz[:5]]) [:-12]
          + chunk(b"tEXt", b"a\x00b") + chunk(b"IDAT", zlib.compress(raw, 9)[5:]) + chunk(b"IEND", b""))
    # A file PIL wrote itself.
    im = Image.new("RGB", (17, 9))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(17 * 9)])
    b = io.BytesIO(); im.save(b, "PNG"); write("png_written_by_pil.png", b.getvalue())
    b = io.BytesIO(); im.convert("P").save(b, "PNG"); write("png_written_by_pil_p.png", b.getvalue())

# ------------------------------------------------------------------ GIF
def lzw_pack(codes, m):
    clear, eoi = 1 << m, (1 << m) + 1
    size, nxt, first = m + 1, eoi + 1, True
    acc = nb = 0
    out = bytearray()
    for c in codes:
        acc |= c << nb; nb += size
        while nb >= 8:
            out.append(acc & 255); acc >>= 8; nb -= 8
        if c == clear:
            size, nxt, first = m + 1, eoi + 1, True
            continue
        if c == eoi:
            continue
        if first:
            first = False
            continue
        if nxt < 4096:
            if nxt == (1 << size) - 1 and size < 12:
                size += 1
            nxt += 1
    if nb:
        out.append(acc & 255)
    return bytes(out)

def lzw_compress(idx, m):
    """A real LZW encoder (dictionary strings), clearing when the table is full."""
    clear, eoi = 1 << m, (1 << m) + 1
    codes = [clear]
    table = {(i,): i for i in range(clear)}
    nxt = eoi + 1
    w = ()
    for k in idx:
        wk = w + (k,)
        if wk in table:
            w = wk
            continue
        codes.append(table[w])
        if nxt < 4096:
            table[wk] = nxt; nxt += 1
        else:
            codes.append(clear)
            table = {(i,): i for i in range(clear)}; nxt = eoi + 1
        w = (k,)
    if w:
        codes.append(table[w])
    codes.append(eoi)
    return codes

def sub_blocks(data):
    o = bytearray()
    for i in range(0, len(data), 255):
        p = data[i:i + 255]; o.append(len(p)); o += p
    return bytes(o) + b"\x00"

def gif(w, h, frame, gpal=None, lpal=None, m=8, codes=None, trans=None, pre=b"", interlace=False, lzw=None):
    fx, fy, fw, fh = frame
    s = b"GIF89a" + struct.pack("<HH", w, h)
    if gpal is not None:
        bits = (len(gpal) // 3).bit_length() - 1
        s += bytes([0x80 | 0x70 | (bits - 1), 3, 0]) + gpal
    else:
        s += bytes([0, 3, 0])
    if trans is not None:
        s += bytes([0x21, 0xF9, 4, 1, 0, 0, trans, 0])
    s += pre
    flags = 0x40 if interlace else 0
    lp = b""
    if lpal is not None:
        bits = (len(lpal) // 3).bit_length() - 1
        flags |= 0x80 | (bits - 1); lp = lpal
    s += b"," + struct.pack("<HHHH", fx, fy, fw, fh) + bytes([flags]) + lp + bytes([m])
    s += sub_blocks(lzw if lzw is not None else lzw_pack(codes, m))
    return s + b";"

def gif_cases():
    rng = random.Random(2)
    pal = bytes(rng.randrange(256) for _ in range(768))
    pal16 = bytes(rng.randrange(256) for _ in range(48))
    grey = bytes(i // 3 for i in range(768))
    def rnd(n, top):
        return [rng.randrange(top) for _ in range(n)]
    write("gif_basic.gif", gif(9, 5, (0, 0, 9, 5), pal, codes=lzw_compress(rnd(45, 256), 8)))
    write("gif_runs.gif", gif(64, 40, (0, 0, 64, 40), pal, codes=lzw_compress([(x // 7 + y // 5) % 3 for y in range(40) for x in range(64)], 8)))
    write("gif_table_full_deferred_clear.gif", gif(100, 60, (0, 0, 100, 60), pal,
          codes=[256] + [c for c in lzw_compress(rnd(6000, 256), 8) if c != 256] ))
    write("gif_frame_inside.gif", gif(8, 6, (2, 1, 3, 4), pal, codes=lzw_compress(rnd(12, 256), 8)))
    write("gif_frame_inside_transparent.gif", gif(8, 6, (2, 1, 3, 4), pal, trans=77, codes=lzw_compress(rnd(12, 256), 8)))
    write("gif_frame_past_screen.gif", gif(4, 3, (2, 2, 5, 4), pal, codes=lzw_compress(rnd(20, 256), 8)))
    write("gif_screen_0x0.gif", gif(0, 0, (1, 1, 3, 2), pal, trans=5, codes=lzw_compress(rnd(6, 256), 8)))
    write("gif_palette_16_indices_past_it.gif", gif(6, 4, (0, 0, 6, 4), pal16, codes=lzw_compress(rnd(24, 40), 8)))
    write("gif_no_palette.gif", gif(6, 4, (0, 0, 6, 4), None, codes=lzw_compress(rnd(24, 256), 8)))
    write("gif_grey_global.gif", gif(6, 4, (0, 0, 6, 4), grey, codes=lzw_compress(rnd(24, 256), 8)))
    write("gif_local_palette.gif", gif(6, 4, (0, 0, 6, 4), pal, lpal=pal16, codes=lzw_compress(rnd(24, 16), 4)))
    write("gif_grey_local_palette.gif", gif(6, 4, (0, 0, 6, 4), pal, lpal=grey[:48], codes=lzw_compress(rnd(24, 16), 4)))
    for hgt in (1, 2, 3, 4, 5, 8, 9, 13):
        write(f"gif_interlaced_h{hgt}.gif", gif(3, hgt, (0, 0, 3, hgt), pal, interlace=True, codes=lzw_compress(rnd(3 * hgt, 256), 8)))
    for m in (0, 1, 2, 3, 7, 9, 12):
        top = max(1, min(1 << m, 256)) if m < 9 else 1 << m
        idx = rnd(30, top if m > 1 else (1 << m) if m else 1)
        write(f"gif_min_code_size_{m}.gif", gif(6, 5, (0, 0, 6, 5), pal, m=m, codes=lzw_compress(idx, m)))
    write("gif_kwkwk.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[256, 1, 258, 9, 257]))
    write("gif_no_leading_clear.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[1, 2, 3, 4, 257]))
    write("gif_pixels_after_frame.gif", gif(2, 1, (0, 0, 2, 1), pal, codes=[256, 1, 2, 3, 4, 257]))
    write("gif_no_end_code.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[256, 1, 2, 3, 4]))
    write("gif_early_end_code.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[256, 1, 2, 257]))
    write("gif_code_past_next.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[256, 1, 300, 3, 4, 257]))
    write("gif_first_code_not_literal.gif", gif(4, 1, (0, 0, 4, 1), pal, codes=[256, 258, 1, 2, 3, 257]))
    write("gif_min_code_size_13.gif", gif(2, 1, (0, 0, 2, 1), pal, m=13, lzw=b"\0\0\0\0"))
    write("gif_zero_width_frame.gif", gif(2, 1, (0, 0, 0, 1), pal, codes=[256, 257]))
    write("gif_two_gces.gif", gif(3, 2, (1, 0, 1, 1), pal, trans=5, pre=bytes([0x21, 0xF9, 4, 0, 0, 0, 6, 0]), codes=[256, 1, 257]))
    write("gif_gce_short.gif", gif(3, 2, (1, 0, 1, 1), pal, pre=bytes([0x21, 0xF9, 2, 1, 0, 0]), codes=[256, 1, 257]))
    write("gif_gce_empty.gif", gif(3, 2, (1, 0, 1, 1), pal, pre=bytes([0x21, 0xF9, 0]), codes=[256, 1, 257]))
    write("gif_extensions_and_junk.gif", gif(3, 2, (0, 0, 3, 2), pal,
          pre=b"\x21\xfe\x05hello\x03abc\x00" + b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" + b"\x07\x99",
          codes=lzw_compress(rnd(6, 256), 8)))
    write("gif_no_image.gif", b"GIF89a\x02\x00\x01\x00\x00\x00\x00;")
    im = Image.new("P", (23, 11))
    im.putpalette(list(pal))
    im.putdata(rnd(23 * 11, 256))
    b = io.BytesIO(); im.save(b, "GIF"); write("gif_written_by_pil.gif", b.getvalue())
    b = io.BytesIO(); im.save(b, "GIF", interlace=True, transparency=3); write("gif_written_by_pil_interlaced.gif", b.getvalue())

# ------------------------------------------------------------------ BMP
def bmp(w, h, bpp, pix, hsize=40, comp=0, colors=0, pal=b"", masks=b"", off=None, hdr_tail=b"", height_field=None):
    if hsize == 12:
        hdr = struct.pack("<IHHHH", 12, w, h, 1, bpp)
    else:
        hf = h if height_field is None else height_field
        hdr = struct.pack("<IiIHHIIiiII", hsize, w, hf & 0xFFFFFFFF, 1, bpp, comp, len(pix), 2835, 2835, colors, 0) + hdr_tail
        hdr += bytes(hsize - len(hdr))
    body = hdr + masks + pal
    o = 14 + len(body) if off is None else off
    return b"BM" + struct.pack("<IHHI", 14 + len(body) + len(pix), 0, 0, o) + body + pix

def rows(w, h, bpp, rng, top=None):
    stride = ((w * bpp + 31) >> 3) & ~3
    out = bytearray()
    for _ in range(h):
        if bpp < 8:
            vals = [rng.randrange(top or (1 << bpp)) for _ in range(w)]
            r = bytearray(stride)
            for i, v in enumerate(vals):
                bit = i * bpp
                r[bit // 8] |= v << (8 - bpp - bit % 8)
        else:
            r = bytearray(rng.randrange(top or 256) if bpp == 8 else rng.randrange(256) for _ in range(w * bpp // 8))
            r += bytes(stride - len(r))
        out += r
    return bytes(out)

def bmp_cases():
    rng = random.Random(3)
    def pal(n, pad=4):
        return b"".join(bytes([rng.randrange(256) for _ in range(3)]) + bytes(pad - 3) for _ in range(n))
    for bpp in (1, 4, 8):
        write(f"bmp_{bpp}bpp.bmp", bmp(11, 5, bpp, rows(11, 5, bpp, rng), pal=pal(1 << bpp)))
        write(f"bmp_{bpp}bpp_core.bmp", bmp(11, 5, bpp, rows(11, 5, bpp, rng), hsize=12, pal=pal(1 << bpp, 3)))
    write("bmp_8bpp_12_colours_indices_past_them.bmp", bmp(7, 3, 8, rows(7, 3, 8, rng, 40), colors=12, pal=pal(12)))
    write("bmp_4bpp_5_colours.bmp", bmp(7, 3, 4, rows(7, 3, 4, rng), colors=5, pal=pal(5)))
    write("bmp_8bpp_grey_ramp.bmp", bmp(7, 3, 8, rows(7, 3, 8, rng), pal=b"".join(bytes([i, i, i, 0]) for i in range(256))))
    write("bmp_8bpp_grey_ramp_16.bmp", bmp(7, 3, 8, rows(7, 3, 8, rng, 30), colors=16, pal=b"".join(bytes([i, i, i, 0]) for i in range(16))))
    write("bmp_4bpp_grey_ramp_quirk.bmp", bmp(8, 3, 4, rows(8, 3, 4, rng), colors=16, pal=b"".join(bytes([i, i, i, 0]) for i in range(16))))
    write("bmp_4bpp_grey_ramp_quirk_too_wide.bmp", bmp(9, 3, 4, rows(9, 3, 4, rng), colors=16, pal=b"".join(bytes([i, i, i, 0]) for i in range(16))))
    write("bmp_8bpp_black_white_quirk.bmp", bmp(9, 3, 8, rows(9, 3, 8, rng), colors=2, pal=bytes([0, 0, 0, 0, 255, 255, 255, 0])))
    write("bmp_1bpp_black_white.bmp", bmp(9, 3, 1, rows(9, 3, 1, rng), pal=bytes([0, 0, 0, 0, 255, 255, 255, 0])))
    write("bmp_8bpp_300_colours.bmp", bmp(4, 1, 8, rows(4, 1, 8, rng), colors=300, pal=pal(300)))
    write("bmp_16bpp.bmp", bmp(9, 4, 16, rows(9, 4, 16, rng)))
    write("bmp_16bpp_565.bmp", bmp(9, 4, 16, rows(9, 4, 16, rng), comp=3, masks=struct.pack("<III", 0xF800, 0x7E0, 0x1F)))
    write("bmp_16bpp_555_bitfields.bmp", bmp(9, 4, 16, rows(9, 4, 16, rng), comp=3, masks=struct.pack("<III", 0x7C00, 0x3E0, 0x1F)))
    write("bmp_16bpp_444_bitfields.bmp", bmp(9, 4, 16, rows(9, 4, 16, rng), comp=3, masks=struct.pack("<III", 0xF00, 0xF0, 0xF)))
    write("bmp_24bpp.bmp", bmp(9, 4, 24, rows(9, 4, 24, rng)))
    write("bmp_24bpp_top_down.bmp", bmp(9, 4, 24, rows(9, 4, 24, rng), height_field=-4))
    write("bmp_24bpp_core.bmp", bmp(9, 4, 24, rows(9, 4, 24, rng), hsize=12))
    write("bmp_24bpp_bitfields.bmp", bmp(9, 4, 24, rows(9, 4, 24, rng), comp=3, masks=struct.pack("<III", 0xFF0000, 0xFF00, 0xFF)))
    write("bmp_32bpp.bmp", bmp(9, 4, 32, rows(9, 4, 32, rng)))
    write("bmp_32bpp_xbgr.bmp", bmp(9, 4, 32, rows(9, 4, 32, rng), comp=3, masks=struct.pack("<III", 0xFF000000, 0xFF0000, 0xFF00)))
    for hsize in (64, 108, 124):
        for masks, tag in [((0xFF, 0xFF00, 0xFF0000, 0xFF000000), "rgba"), ((0xFF0000, 0xFF00, 0xFF, 0xFF000000), "bgra"),
                           ((0xFF000000, 0xFF0000, 0xFF00, 0xFF), "abgr"), ((0, 0, 0, 0), "zero")]:
            write(f"bmp_32bpp_v{hsize}_{tag}.bmp", bmp(5, 3, 32, rows(5, 3, 32, rng), hsize=hsize, comp=3,
                  hdr_tail=struct.pack("<IIII", *masks)))
        write(f"bmp_24bpp_v{hsize}_top_down.bmp", bmp(5, 3, 24, rows(5, 3, 24, rng), hsize=hsize, height_field=-3))
        write(f"bmp_8bpp_v{hsize}.bmp", bmp(5, 3, 8, rows(5, 3, 8, rng), hsize=hsize, pal=pal(256)))
    write("bmp_offset_0.bmp", bmp(5, 3, 8, rows(5, 3, 8, rng), pal=pal(256), off=0))
    write("bmp_offset_at_header_end.bmp", bmp(5, 3, 8, rows(5, 3, 8, rng), pal=pal(256), off=54))
    write("bmp_2bpp.bmp", bmp(5, 3, 2, rows(5, 3, 2, rng), pal=pal(4)))
    write("bmp_rle8.bmp", bmp(4, 1, 8, bytes([4, 1, 0, 1]), comp=1, colors=4, pal=pal(4)))
    write("bmp_truncated_pixels.bmp", bmp(5, 3, 24, rows(5, 3, 24, rng))[:-20])
    write("bmp_height_0x80000001.bmp", bmp(1, 1, 24, bytes(4), height_field=0x80000001))
    im = Image.new("RGB", (13, 6))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(13 * 6)])
    b = io.BytesIO(); im.save(b, "BMP"); write("bmp_written_by_pil.bmp", b.getvalue())
    b = io.BytesIO(); im.convert("P").save(b, "BMP"); write("bmp_written_by_pil_p.bmp", b.getvalue())
    b = io.BytesIO(); im.convert("1").save(b, "BMP"); write("bmp_written_by_pil_1.bmp", b.getvalue())

if __name__ == "__main__":
    for old in glob.glob(os.path.join(HERE, "*.png*")) + glob.glob(os.path.join(HERE, "*.gif*")) + glob.glob(os.path.join(HERE, "*.bmp*")):
        os.remove(old)
    png_cases()
    gif_cases()
    bmp_cases()
