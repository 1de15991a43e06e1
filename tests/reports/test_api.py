"""The reports API: who may ask for what, parameters, CSV for spreadsheets, charts, the OpenAPI description."""
import csv
import io

import pytest

API = "/api/v1/reports"
Q1 = {"from": "2025-01-01", "to": "2025-03-31"}


@pytest.fixture
def chamber(exchange_data, login_as):
    return login_as("chamber", territory=["46", "82"])[1]


def read_csv(response, sep=","):
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM first, so that Excel reads the accents"
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:]), delimiter=sep))


def test_who_may_read_reports(client, exchange_data, login_as, chamber):
    assert client.get(f"{API}/summary", query_string=Q1).status_code == 401
    for role in ("producer", "trader"):
        assert client.get(f"{API}/summary", query_string=Q1, headers=login_as(role)[1]).status_code == 403
    r = client.get(f"{API}/summary", query_string=Q1, headers=chamber)
    assert r.status_code == 200
    assert r.json["departments"] == ["46", "82"] and r.json["total"]["lots_posted"] == 10
    r = client.get(f"{API}/summary", query_string=Q1 | {"department": "12"}, headers=chamber)
    assert r.status_code == 403 and r.json["error"] == "outside_territory"
    r = client.get(f"{API}/summary", query_string=Q1 | {"department": "82"}, headers=chamber)
    assert r.status_code == 200 and r.json["departments"] == ["82"]
    assert r.json["total"]["masked"] is True  # P4 is the only producer there
    admin = login_as("admin")[1]
    r = client.get(f"{API}/summary", query_string=Q1 | {"department": "12"}, headers=admin)
    assert r.status_code == 200 and r.json["total"]["masked"] is True  # P5 alone
    r = client.get(f"{API}/summary", query_string=Q1, headers=admin)
    assert r.json["departments"] is None and r.json["total"]["lots_posted"] == 11
    assert r.json["total"]["producers_active"] == 5


def test_the_summary_over_http_is_the_service_s(client, chamber):
    r = client.get(f"{API}/summary", query_string=Q1 | {"group_by": "category"}, headers=chamber)
    eggs = next(row for row in r.json["rows"] if row["category"] == "eggs")
    assert eggs["value_collected_cents"] == 3240 and eggs["units"][0]["quantity_collected"] == 105
    assert [row["masked"] for row in r.json["rows"]] == [True, False, True, False]
    assert r.json["rows"][0]["lots_posted"] is None
    r = client.get(f"{API}/summary", query_string=Q1 | {"group_by": "department,month"}, headers=chamber)
    assert r.status_code == 200 and r.json["group_by"] == ["department", "month"]
    assert (r.json["rows"][0]["department"], r.json["rows"][0]["month"]) == ("46", "2025-01")


@pytest.mark.parametrize("query, field", [
    ({"from": "2025-03-31", "to": "2025-01-01"}, "to"),
    ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),
    ({"from": "2025-01-01"}, "to"),
    ({"from": "01/01/2025", "to": "2025-03-31"}, "from"),
    (Q1 | {"group_by": "farm"}, "group_by"),
    (Q1 | {"group_by": "month,month"}, "group_by"),
    (Q1 | {"group_by": "month,category,department"}, "group_by"),
    (Q1 | {"department": "Lot"}, "department"),
    (Q1 | {"format": "xlsx"}, "format"),
    (Q1 | {"format": "csv", "sep": "|"}, "sep"),
])
def test_bad_parameters_are_422_naming_them(client, chamber, query, field):
    r = client.get(f"{API}/summary", query_string=query, headers=chamber)
    assert r.status_code == 422, r.json
    errors = r.json["errors"]
    assert field in errors.get("query", errors)


def test_summary_csv_with_commas(client, chamber):
    r = client.get(f"{API}/summary", query_string=Q1 | {"format": "csv"}, headers=chamber)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="carreau-summary-2025-01-01-2025-03-31-category.csv"' in r.headers["Content-Disposition"]
    header, *rows = read_csv(r)
    assert header[:4] == ["Catégorie (category)", "Secret statistique (masked)", "Lots publiés (lots_posted)",
                          "Producteurs actifs (producers_active)"]
    line = {row[0]: dict(zip(header, row)) for row in rows}
    assert list(line) == ["dairy", "eggs", "honey", "vegetables", "Total"]
    vegetables = line["vegetables"]
    assert vegetables["Valeur collectée, € HT (value_collected_eur)"] == "195.25"
    assert vegetables["Quantité collectée, kg (quantity_collected_kg)"] == "70.5"
    assert vegetables["Km par kg collecté (km_per_kg)"] == "0.583"
    assert vegetables["Secret statistique, pièce (masked_piece)"] == "1"
    assert vegetables["Quantité collectée, pièce (quantity_collected_piece)"] == ""
    assert line["honey"]["Secret statistique (masked)"] == "1" and line["honey"]["Lots publiés (lots_posted)"] == ""
    assert line["Total"]["Valeur collectée, € HT (value_collected_eur)"] == "287.65"


def test_summary_csv_for_french_spreadsheets(client, chamber):
    r = client.get(f"{API}/summary", query_string=Q1 | {"format": "csv", "sep": ";"}, headers=chamber)
    text = r.get_data(as_text=True)
    assert text.splitlines()[0].count(";") > 10 and "," not in text.splitlines()[1].replace("Fromage", "")
    header, *rows = read_csv(r, sep=";")
    vegetables = dict(zip(header, rows[3]))
    assert vegetables["Valeur collectée, € HT (value_collected_eur)"] == "195,25"
    assert vegetables["Taux d'écoulement, kg (sell_through_kg)"] == "0,3917"


def test_prices_json_and_csv(client, chamber):
    r = client.get(f"{API}/prices", query_string=Q1 | {"basis": "offered"}, headers=chamber)
    assert r.status_code == 200 and r.json["basis"] == "offered"
    eggs = next(row for row in r.json["rows"] if row["product"] == "œufs")
    assert (eggs["min_cents"], eggs["q1_cents"], eggs["median_cents"], eggs["q3_cents"], eggs["max_cents"]) == (
        30, 31, 32, 33.5, 35)
    r = client.get(f"{API}/prices", query_string=Q1 | {"basis": "offered", "format": "csv", "sep": ";"},
                   headers=chamber)
    header, *rows = read_csv(r, sep=";")
    eggs = dict(zip(header, rows[-1]))
    assert eggs["Produit, libellé (product_name)"] == "Œufs"
    assert eggs["Troisième quartile, € (q3_eur)"] == "0,335" and eggs["Médiane, € (median_eur)"] == "0,32"
    assert client.get(f"{API}/prices", query_string=Q1 | {"basis": "dreamt"}, headers=chamber).status_code == 422


def test_chart_series(client, chamber):
    r = client.get(f"{API}/series", query_string=Q1 | {"metric": "value_collected_cents"}, headers=chamber)
    assert r.status_code == 200
    assert [(p["key"], p["value"], p["masked"]) for p in r.json["points"]] == [
        ("2025-01", 22525, False), ("2025-02", 6240, False), ("2025-03", 0, False)]
    r = client.get(f"{API}/series", query_string=Q1 | {"metric": "quantity_collected", "group_by": "category",
                                                        "unit": "piece"}, headers=chamber)
    assert r.json["unit"] == "piece"
    assert [(p["key"], p["value"], p["masked"]) for p in r.json["points"]] == [
        ("dairy", None, True), ("eggs", 105.0, False), ("honey", 0.0, False), ("vegetables", None, True)]
    r = client.get(f"{API}/series", query_string=Q1 | {"metric": "producers_active", "group_by": "commune"},
                   headers=chamber)
    assert r.json["points"][0] == {"key": "46042", "label": "Cahors", "value": None, "masked": True}
    assert client.get(f"{API}/series", query_string=Q1 | {"metric": "happiness"}, headers=chamber).status_code == 422


def test_the_openapi_description_documents_reports(client):
    spec = client.get("/api/v1/openapi.json").json
    summary = spec["paths"]["/api/v1/reports/summary"]["get"]
    names = {p["name"] for p in summary["parameters"]}
    assert {"from", "to", "department", "group_by", "format", "sep"} <= names
    assert summary["summary"].startswith("Lots, volumes per unit")
    assert "text/csv" in summary["responses"]["200"]["content"]
    assert "application/json" in summary["responses"]["200"]["content"]
    assert {"/api/v1/reports/prices", "/api/v1/reports/series", "/api/v1/reports/snapshots",
            "/api/v1/reports/snapshots/{snapshot_id}"} <= set(spec["paths"])
