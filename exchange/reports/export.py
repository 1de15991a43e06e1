"""Reports as CSV for spreadsheets: UTF-8 with a BOM (so that Excel reads the accents), one line per row.

With `sep=";"` the file follows French spreadsheet conventions: semicolons between fields and a
decimal comma ("12,5"), which is what LibreOffice and Excel expect on a French system. Headers are
French first, with the API's field name alongside: "Lots publiés (lots_posted)". Money is in
euros here (the API speaks cents); a masked cell's figures are left empty.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from exchange.models import UNITS
from exchange.reports.dimensions import LABELS

BOM = "\ufeff"
SEPARATORS = (",", ";")
UNIT_NAMES = {"kg": "kg", "piece": "pièce", "bunch": "botte", "litre": "litre", "crate": "cagette"}
KEY_HEADERS = {"category": "Catégorie", "department": "Département", "commune": "Commune (INSEE)",
               "commune_name": "Commune", "month": "Mois", "product": "Produit", "product_name": "Produit (libellé)"}
STATE_NAMES = {"collected": "collectées", "declined": "refusées", "cancelled": "annulées", "expired": "expirées",
               "no_show": "non retirées", "open": "en cours"}


def _number(value, sep: str, places: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    number = Decimal(str(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number, "f")
    return text.replace(".", ",") if sep == ";" else text


def _euros(cents, sep: str) -> str:
    return "" if cents is None else _number(Decimal(str(cents)) / 100, sep, 2)


def _euros_precise(cents, sep: str) -> str:
    """Prices can fall between cents (a median of 32 and 35 is 33.5 cents): keep what is there."""
    if cents is None:
        return ""
    euros = Decimal(str(cents)) / 100
    return _number(euros, sep, max(2, -euros.normalize().as_tuple().exponent))


def _write(header: list[str], lines: list[list[str]], sep: str) -> str:
    if sep not in SEPARATORS:
        raise ValueError(f"unsupported separator {sep!r}")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return BOM + out.getvalue()


def _units_of(report: dict) -> list[str]:
    present = {u["unit"] for row in [*report["rows"], report["total"]] for u in row["units"]}
    return [u for u in UNITS if u in present] + sorted(present - set(UNITS))


def summary_csv(report: dict, sep: str = ",") -> str:
    """The summary, one line per group and a last line for the whole territory."""
    keys = [name for d in report["group_by"] for name in ([d, LABELS[d]] if d in LABELS else [d])]
    units = _units_of(report)
    header = [f"{KEY_HEADERS[k]} ({k})" for k in keys] + [
        "Secret statistique (masked)", "Lots publiés (lots_posted)", "Producteurs actifs (producers_active)",
        "Acheteurs actifs (traders_active)", "Valeur collectée, € HT (value_collected_eur)"]
    header += [f"Réservations {STATE_NAMES[s]} (reservations_{s})" for s in STATE_NAMES]
    header += ["Distance moyenne ferme-acheteur, km (distance_mean_km)",
               "Distance totale parcourue, km (distance_total_km)"]
    for unit in units:
        name = UNIT_NAMES.get(unit, unit)
        header += [f"Secret statistique, {name} (masked_{unit})", f"Producteurs, {name} (producers_active_{unit})",
                   f"Quantité proposée, {name} (quantity_offered_{unit})",
                   f"Quantité réservée, {name} (quantity_reserved_{unit})",
                   f"Quantité collectée, {name} (quantity_collected_{unit})",
                   f"Taux d'écoulement, {name} (sell_through_{unit})"]
        if unit == "kg":
            header.append("Km par kg collecté (km_per_kg)")
    lines = []
    for row in [*report["rows"], {"total": True} | report["total"]]:
        line = ["Total" if row.get("total") and i == 0 else (row.get(k) or "") for i, k in enumerate(keys)]
        states = row["reservations"] or {}
        line += [_number(row["masked"], sep), _number(row["lots_posted"], sep), _number(row["producers_active"], sep),
                 _number(row["traders_active"], sep), _euros(row["value_collected_cents"], sep)]
        line += [_number(states.get(s), sep) for s in STATE_NAMES]
        line += [_number(row["distance_mean_km"], sep), _number(row["distance_total_km"], sep)]
        cells = {u["unit"]: u for u in row["units"]}
        for unit in units:
            cell = cells.get(unit, {})
            line += [_number(cell.get("masked"), sep), _number(cell.get("producers_active"), sep)]
            line += [_number(cell.get(f), sep) for f in ("quantity_offered", "quantity_reserved", "quantity_collected",
                                                          "sell_through")]
            if unit == "kg":
                line.append(_number(cell.get("km_per_kg"), sep))
        lines.append(line)
    return _write(header, lines, sep)


def prices_csv(report: dict, sep: str = ",") -> str:
    """Unit prices by product and unit, in euros per unit."""
    header = ["Produit (product)", "Produit, libellé (product_name)", "Catégorie (category)", "Unité (unit)",
              "Secret statistique (masked)", "Observations (observations)", "Producteurs (producers_active)",
              "Prix minimum, € (min_eur)", "Premier quartile, € (q1_eur)", "Médiane, € (median_eur)",
              "Troisième quartile, € (q3_eur)", "Prix maximum, € (max_eur)", "Moyenne, € (mean_eur)"]
    lines = [[row["product"], row["product_name"], row["category"], row["unit"], _number(row["masked"], sep),
              _number(row["observations"], sep), _number(row["producers_active"], sep)]
             + [_euros_precise(row[f"{name}_cents"], sep) for name in ("min", "q1", "median", "q3", "max", "mean")]
             for row in report["rows"]]
    return _write(header, lines, sep)
