#!/usr/bin/env bash
# Regenerates the JPEG decoder fixtures in this directory: small JPEGs made by libjpeg-turbo's own tools (and PIL, and
# TurboJPEG for YCCK) plus, for each, the pixels PIL hands to Hugging Face: Image.open(f).convert("RGB").tobytes(),
# stored raw as <name>.rgb (height x width x 3 bytes) and listed in fixtures.tsv (name, width, height, what it covers).
#
# NOT run by CI (CI has no python): the generated files are committed, and JpegDecoderTests compare the decoder's
# output with them byte for byte. Run it by hand on Debian 12 (bookworm), whose packages are the reference:
#   apt-get install -y libjpeg-turbo-progs python3-pil libturbojpeg0    # libjpeg-turbo 2.1.5, PIL 9.4.0
#   tests/ViTMAE.Compiled.Tests/Imaging/Fixtures/jpeg/make_fixtures.sh
# Sources are crops of ../shared/golden/preprocess/photo_640x480_q90.jpg (a real photo: texture in every block).
# The two whole-photo transcodes (photo_progressive.jpg, photo_restart.jpg) are lossless jpegtran rewrites of the
# golden photo, so their expected pixels are the golden decoded_rgb_u8 tensor and no .rgb is stored for them.
set -euo pipefail
py="${PYTHON:-/usr/bin/python3}"   # Debian's python3 (python3-pil), not a pyenv/venv one
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../../.." && pwd)"
golden="$root/../shared/golden/preprocess/photo_640x480_q90.jpg"
[ -f "$golden" ] || { echo "missing $golden" >&2; exit 1; }
"$py" -c 'import PIL, sys; sys.exit(0 if PIL.__version__ == "9.4.0" else "need PIL 9.4.0, found " + PIL.__version__)'
cjpeg -version 2>&1 | grep -q '2\.1\.5' || { echo "need libjpeg-turbo 2.1.5 tools" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$here"
rm -f ./*.jpg ./*.rgb fixtures.tsv
printf 'name\twidth\theight\tcovers\n' > fixtures.tsv

# crop W H X Y -> $tmp/WxH+X+Y.ppm, a crop of the golden photo as PIL decodes it.
crop() {
  local out="$tmp/$1x$2+$3+$4.ppm"
  [ -f "$out" ] || "$py" - "$golden" "$out" "$1" "$2" "$3" "$4" <<'PY'
import sys
from PIL import Image
src, out, w, h, x, y = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
Image.open(src).convert("RGB").crop((x, y, x + w, y + h)).save(out)
PY
  echo "$out"
}

# expect NAME WHAT: records PIL's convert("RGB") pixels of NAME.jpg.
expect() {
  "$py" - "$1" "$2" <<'PY'
import sys
from PIL import Image
name, what = sys.argv[1], sys.argv[2]
im = Image.open(name + ".jpg")
im.load()
rgb = im.convert("RGB")
open(name + ".rgb", "wb").write(rgb.tobytes())
with open("fixtures.tsv", "a") as f:
    f.write(f"{name}\t{rgb.width}\t{rgb.height}\t{what}\n")
PY
}

# cj NAME "WHAT" W H X Y cjpeg-options...
cj() {
  local name="$1" what="$2" w="$3" h="$4" x="$5" y="$6"
  shift 6
  cjpeg "$@" -outfile "$name.jpg" "$(crop "$w" "$h" "$x" "$y")"
  expect "$name" "$what"
}

# ---- chroma subsampling (every upsampler libjpeg-turbo 2.1.5 picks with fancy upsampling on) and odd sizes
cj s444_35x27 "4:4:4, full-size chroma" 35 27 300 200 -quality 90 -sample 1x1
cj s422_35x27 "4:2:2, h2v1 fancy upsampling" 35 27 300 200 -quality 90 -sample 2x1
cj s420_35x27 "4:2:0, h2v2 fancy upsampling" 35 27 300 200 -quality 90 -sample 2x2
cj s440_35x27 "4:4:0, h1v2 fancy upsampling" 35 27 300 200 -quality 90 -sample 1x2
cj s411_35x27 "4:1:1, 4x1 integral (box) upsampling" 35 27 300 200 -quality 90 -sample 4x1
cj s420x4_35x27 "Y 4x2 chroma 1x1: 4x2 box upsampling" 35 27 300 200 -quality 90 -sample 4x2
cj s311_35x27 "Y 3x1: 3x1 box upsampling" 35 27 300 200 -quality 90 -sample 3x1
cj s1x4_35x27 "Y 1x4: 1x4 box upsampling" 35 27 300 200 -quality 90 -sample 1x4
cj s3x2_35x27 "Y 3x2: 3x2 box upsampling" 35 27 300 200 -quality 90 -sample 3x2
cj smixed_35x27 "Y 2x2, Cb 1x2 (h2v1 fancy), Cr 2x1 (h1v2 fancy)" 35 27 300 200 -quality 90 -sample 2x2,1x2,2x1
cj s4x1mix_35x27 "Y 4x1, Cb 2x1 (h2v1 fancy), Cr 1x1 (4x1 box)" 35 27 300 200 -quality 90 -sample 4x1,2x1,1x1
cj s420_17x13 "4:2:0, odd size, partial MCUs" 17 13 100 100 -quality 85
cj s420_33x7 "4:2:0, 33x7" 33 7 400 50 -quality 85
cj s420_7x33 "4:2:0, 7x33" 7 33 20 300 -quality 85
cj s420_1x1 "4:2:0, 1x1" 1 1 320 240 -quality 85
cj s420_2x2 "4:2:0, 2x2: chroma 1 sample wide, box upsampling" 2 2 321 241 -quality 85
cj s420_3x3 "4:2:0, 3x3: chroma 2 samples wide, box upsampling" 3 3 322 242 -quality 85
cj s420_5x5 "4:2:0, 5x5: chroma 3 samples wide, fancy upsampling" 5 5 323 243 -quality 85
cj s420_1x17 "4:2:0, 1x17" 1 17 500 100 -quality 85
cj s420_17x1 "4:2:0, 17x1" 17 1 500 100 -quality 85
cj s422_17x13 "4:2:2, 17x13" 17 13 150 300 -quality 85 -sample 2x1
cj s422_3x2 "4:2:2, 3x2" 3 2 150 300 -quality 85 -sample 2x1
cj s440_13x17 "4:4:0, 13x17" 13 17 150 300 -quality 85 -sample 1x2
cj s440_1x3 "4:4:0, 1x3" 1 3 150 300 -quality 85 -sample 1x2
cj s444_9x9 "4:4:4, 9x9" 9 9 600 400 -quality 95 -sample 1x1
cj s420_16x16 "4:2:0, exactly one MCU" 16 16 200 100 -quality 75

# ---- grey
cj gray_35x27 "greyscale (PIL mode L, replicated)" 35 27 300 200 -quality 90 -grayscale
cj gray_17x13 "greyscale, odd size" 17 13 100 100 -quality 60 -grayscale
cj gray2x2_17x13 "greyscale with sampling factors 2x2 (one non-interleaved component)" 17 13 100 100 -quality 80 -grayscale -sample 2x2

# ---- quality extremes, optimized tables, 16-bit quantisation tables, RGB (no colour transform)
cj q100_35x27 "quality 100 (all-1 quantisation: large coefficients)" 35 27 50 50 -quality 100
cj q5_35x27 "quality 5 (coarse quantisation, ringing past 0..255)" 35 27 50 50 -quality 5
cj q1_35x27 "quality 1, 16-bit quantisation tables (SOF1)" 35 27 50 50 -quality 1
cj opt_35x27 "optimized Huffman tables" 35 27 420 330 -quality 80 -optimize
cj rgb_35x27 "Adobe transform 0: RGB components, no YCbCr conversion" 35 27 420 330 -quality 90 -rgb

# ---- restart intervals
cj rst1b_35x27 "restart marker after every MCU" 35 27 200 200 -quality 85 -restart 1B
cj rst3b_17x13 "restart every 3 MCUs, odd size" 17 13 200 200 -quality 85 -restart 3B
cj rst1_35x27 "restart every MCU row" 35 27 200 200 -quality 85 -restart 1

# ---- progressive (spectral selection, successive approximation, EOB runs)
cj prog_35x27 "progressive 4:2:0" 35 27 250 150 -quality 90 -progressive
cj prog444_35x27 "progressive 4:4:4" 35 27 250 150 -quality 90 -progressive -sample 1x1
cj prog_17x13 "progressive, odd size" 17 13 250 150 -quality 80 -progressive
cj prog_gray_35x27 "progressive greyscale" 35 27 250 150 -quality 80 -progressive -grayscale
cj prog_rst_35x27 "progressive with a restart marker every 2 MCUs" 35 27 250 150 -quality 90 -progressive -restart 2B
cj prog_opt_35x27 "progressive with optimized tables" 35 27 250 150 -quality 90 -progressive -optimize
cj prog_q100_35x27 "progressive, quality 100" 35 27 250 150 -quality 100 -progressive

# Scan scripts (cjpeg -scans): sequential multi-scan files, and progressive files that stop before Al=0, which
# libjpeg decodes with block smoothing (jdcoefct.c decompress_smooth_data).
cat > "$tmp/seq3.txt" <<'SCANS'
2;
0;
1;
SCANS
cat > "$tmp/seq21.txt" <<'SCANS'
0 2;
1;
SCANS
cat > "$tmp/al1.txt" <<'SCANS'
0,1,2: 0-0, 0, 1;
0: 1-5, 0, 2;
2: 1-63, 0, 1;
1: 1-63, 0, 1;
0: 6-63, 0, 2;
0: 1-63, 2, 1;
0,1,2: 0-0, 1, 0;
SCANS
cat > "$tmp/al2.txt" <<'SCANS'
0: 0-0, 0, 0;
1: 0-0, 0, 0;
2: 0-0, 0, 0;
0: 1-2, 0, 3;
0: 3-63, 0, 2;
1: 1-63, 0, 4;
2: 1-63, 0, 0;
SCANS
cj seq3_35x27 "sequential (SOF0) file with one scan per component, out of order" 35 27 333 222 -quality 85 -scans "$tmp/seq3.txt"
cj seq21_35x27 "sequential, scans {Y,Cr} then {Cb}" 35 27 333 222 -quality 85 -scans "$tmp/seq21.txt"
cj smooth_al1_35x27 "progressive ending at Al=1: block smoothing" 35 27 333 222 -quality 90 -scans "$tmp/al1.txt"
cj smooth_al2_35x27 "progressive, AC at Al=2..4 on some components: block smoothing" 35 27 333 222 -quality 75 -scans "$tmp/al2.txt"
cj smooth_al1_gray_17x13 "greyscale progressive ending at Al=1, odd size: block smoothing" 17 13 333 222 -quality 75 -grayscale -scans <(printf '0: 0-0, 0, 0;\n0: 1-63, 0, 1;\n')

# A progressive file cut after its first (DC) scan, EOI appended: DC only, block smoothing of the DC terms.
cjpeg -quality 90 -progressive -outfile "$tmp/full.jpg" "$(crop 35 27 360 260)"
"$py" - "$tmp/full.jpg" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
first = data.index(b"\xff\xda")
second = data.index(b"\xff\xda", first + 2)
open("prog_dconly_35x27.jpg", "wb").write(data[:second] + b"\xff\xd9")
PY
expect prog_dconly_35x27 "progressive with only the DC scan (then EOI): block smoothing"

# ---- CMYK and YCCK (PIL opens 4-component JPEGs as CMYK with Adobe inversion; convert("RGB") is Convert.c cmyk2rgb)
"$py" - "$(crop 35 27 100 300)" <<'PY'
import sys
from PIL import Image
rgb = Image.open(sys.argv[1]).convert("RGB")
cmyk = Image.merge("CMYK", [*Image.eval(rgb, lambda v: 255 - v).split(), rgb.convert("L").point(lambda v: max(0, 160 - v))])
cmyk.save("cmyk_35x27.jpg", quality=90)
PY
expect cmyk_35x27 "Adobe CMYK (transform 0) written by PIL"
"$py" - "$(crop 35 27 100 300)" <<'PY'
import ctypes, sys
from PIL import Image
rgb = Image.open(sys.argv[1]).convert("RGB")
px = bytearray()
for r, g, b in rgb.getdata():
    k = max(0, 200 - max(r, g, b))
    px += bytes((255 - r, 255 - g, 255 - b, k))
tj = ctypes.CDLL("libturbojpeg.so.0")
tj.tjInitCompress.restype = ctypes.c_void_p
handle = ctypes.c_void_p(tj.tjInitCompress())
buf = ctypes.POINTER(ctypes.c_ubyte)()
size = ctypes.c_ulong(0)
src = (ctypes.c_ubyte * len(px)).from_buffer(px)
# TJPF_CMYK = 11 (TurboJPEG writes it as YCCK, Adobe transform 2); TJSAMP_420 = 2; quality 90.
rc = tj.tjCompress2(handle, src, rgb.width, 0, rgb.height, 11, ctypes.byref(buf), ctypes.byref(size), 2, 90, 0)
assert rc == 0, rc
open("ycck_35x27.jpg", "wb").write(ctypes.string_at(buf, size.value))
PY
expect ycck_35x27 "Adobe YCCK (transform 2) 4:2:0 written by TurboJPEG"

# ---- corrupt or unusual data libjpeg decodes anyway (warnings, zero-filled data, resynchronisation): PIL's pixels
# mutate NAME SOURCE WHAT PYTHON: applies PYTHON to the bytearray d (SOURCE.jpg's bytes), writes NAME.jpg and records
# PIL's pixels; a mutation PIL refuses is an error here (these fixtures are meant to decode).
mutate() {
  "$py" - "$1" "$2" "$4" <<'PY'
import sys
name, source, code = sys.argv[1:]
d = bytearray(open(source + ".jpg", "rb").read())
def sos(d, nth=1):
    i = -2
    for _ in range(nth):
        i = d.index(b"\xff\xda", i + 2)
    return i + 2 + ((d[i + 2] << 8) | d[i + 3])   # first byte of that scan's entropy-coded data
exec(code)
open(name + ".jpg", "wb").write(d)
PY
  expect "$1" "$3"
}
mutate corrupt_dri_no_rst s420_35x27 "restart interval 1 but no RST markers: zero-filled after the first MCU" \
  'i = d.index(b"\xff\xda"); d[i:i] = b"\xff\xdd\x00\x04\x00\x01"'
mutate corrupt_rst_numbers rst1b_35x27 "RST markers renumbered: jpeg_resync_to_restart's three actions" \
  'import re; rs = [m.start() for m in re.finditer(rb"\xff[\xd0-\xd7]", bytes(d[sos(d):]))]; b = sos(d)
for k, j in enumerate(rs[3:40:3]): d[b + j + 1] = 0xD0 + ((d[b + j + 1] - 0xD0 + (k % 5) + 1) & 7)'
mutate corrupt_cut_eoi s420_35x27 "scan cut short by EOI: the rest of the image mid-grey" \
  'b = sos(d); del d[b + (len(d) - b) // 2 : -2]'
mutate corrupt_bits s420_35x27 "flipped bits in the scan: bad Huffman codes, runs past coefficient 63" \
  'b = sos(d)
for k in range(12): d[b + (40 + 29 * k) % (len(d) - b - 2)] ^= 1 << (k % 8)'
mutate corrupt_garbage s444_9x9 "garbage and fill bytes between segments, stray RST and TEM markers after the scan" \
  'i = d.index(b"\xff\xdb"); d[i:i] = b"\x00\x12\x34\xff\xff\xff"; d[-2:-2] = b"\xff\xd3\x55\xff\x01\xff\x00\x66"'
mutate corrupt_prog_cut prog_35x27 "progressive cut inside a later scan, then EOI: smoothing with libjpeg's last good iMCU row" \
  'b = sos(d, 6); del d[b + 12 : -2]'
mutate corrupt_prog_eob prog_gray_35x27 "progressive AC scan whose data stops at a marker mid-band" \
  'b = sos(d, 3); d[b + 5 : b + 5] = b"\xff\xd5"'
mutate extreme_dc_quant s444_35x27 "DC quantiser x16: samples past 0..255 (SIMD IDCT saturates where jidctint.c would wrap)" \
  'i = d.index(b"\xff\xdb") + 5; d[i] = min(255, d[i] * 16)'
mutate extreme_ac_quant q100_35x27 "all quantisers 77 on quality-100 coefficients: products wrap in the SIMD IDCT's 16 bits" \
  'i = d.index(b"\xff\xdb"); n = (d[i + 2] << 8) | d[i + 3]; j = i + 4
while j < i + 2 + n: d[j + 1 : j + 65] = bytes([77]) * 64; j += 65'

# ---- whole-photo lossless transcodes (expected pixels: the golden tensor)
jpegtran -progressive -outfile photo_progressive.jpg "$golden"
jpegtran -restart 1 -outfile photo_restart.jpg "$golden"

# ---- files PIL cannot open (the decoder must reject them with UnsupportedImageFormatException)
cjpeg -quality 80 -arithmetic -outfile reject_arithmetic.jpg "$(crop 17 13 100 100)"
cjpeg -quality 80 -arithmetic -progressive -outfile reject_arithmetic_progressive.jpg "$(crop 17 13 100 100)"

ls -l "$here" | awk '{ s += $5 } END { print "fixtures: " s " bytes" }'
