#!/usr/bin/env bash
# Renders a report page with headless Chromium and checks that the picture
# is not blank: more than 1% of its pixels differ from the background (the
# most common colour). The PNG is decoded by a small pure-Python decoder
# (zlib only), so no imaging library is needed.
#
#   tests/report/screenshot.sh FILE.html [OUT.png]
#
# Give OUT.png (best outside the work tree; *.png is git-ignored anyway) to
# keep the picture for a person to look at; without it the picture goes into
# a temporary folder that is removed at the end, so test runs leave nothing
# behind. Exit 0: rendered and not blank; 1: blank, or Chromium failed;
# 2: bad arguments; 77: Chromium is not installed (skip; Debian package
# `chromium`, installed by scripts/deps.sh).
set -uo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -f "$1" ]; then
    echo "usage: $0 FILE.html [OUT.png]" >&2
    exit 2
fi
html=$(realpath "$1")
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "screenshot: $chromium is not installed (apt-get install chromium); skipped" >&2
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ketenhub-screenshot.XXXXXX")
out=${2:-$work/report.png}
# Chromium's profile, its HOME and (by default) the PNG live in $work.
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
rm -f "$out"
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
HOME=$work/home timeout 120 "$chromium" --headless --no-sandbox --disable-gpu \
    --hide-scrollbars --no-first-run --no-default-browser-check --disable-extensions \
    --disable-background-networking --disable-sync --mute-audio \
    --user-data-dir="$work/profile" --window-size=1200,3000 \
    --screenshot="$out" "file://$html" >"$work/chromium.log" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ ! -s "$out" ]; then
    echo "screenshot: chromium failed (exit $rc, no $out); its output:" >&2
    tail -n 30 "$work/chromium.log" >&2
    exit 1
fi
/usr/bin/python3 - "$out" <<'EOF'
import struct
import sys
import zlib
from collections import Counter


def decode(path):
    """Returns (width, height, channels, rows) of an 8-bit, non-interlaced
    PNG in grey, grey+alpha, RGB or RGBA; rows are bytes, unfiltered."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError("bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise ValueError("no IHDR")
    width, height, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, interlace %d"
                         % (depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError("image data is %d bytes, expected %d" % (len(raw), height * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 1:  # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif ftype == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        elif ftype != 0:
            raise ValueError("bad filter type %d in row %d" % (ftype, y))
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


path = sys.argv[1]
try:
    width, height, channels, rows = decode(path)
except (ValueError, zlib.error, struct.error) as e:
    print("screenshot: cannot decode %s: %s" % (path, e), file=sys.stderr)
    sys.exit(1)
counts = Counter()
for row in rows:
    counts.update(row[i:i + channels] for i in range(0, len(row), channels))
total = width * height
background, same = counts.most_common(1)[0]
differ = total - same
share = 100.0 * differ / total
print("screenshot: %s: %dx%d, %d colours, %.1f%% of the pixels differ from the background %s"
      % (path, width, height, len(counts), share, background.hex()))
if share <= 1.0:
    print("screenshot: the page looks blank", file=sys.stderr)
    sys.exit(1)
EOF
