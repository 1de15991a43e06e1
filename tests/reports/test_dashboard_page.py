"""The chamber's dashboard page: the territory's figures in French, masked cells said so, CSV downloads."""
import datetime as dt
import json
import re

from exchange.reports.periods import Period
from exchange.reports.scope import Scope
from exchange.reports.summary import summary
from exchange.web import chamber
from exchange.web.formatting import money_whole
from tests.conftest import PASSWORD

QUARTER = {"from": "2025-01-01", "to": "2025-03-31"}


def _sign_in(client, user):
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_a_chamber_sees_its_territory_in_french_with_csv_downloads(client, make_user, exchange_data):
    chamber_user = make_user("chamber", territory=["46", "82"], name="Chambre du Lot")
    _sign_in(client, chamber_user)
    page = client.get("/chamber", query_string=QUARTER)
    assert page.status_code == 200
    html = page.text
    expected = summary(Scope(Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31)), ("46", "82")), ("category",))
    with client.application.test_request_context():
        assert money_whole(expected["total"]["value_collected_cents"]) in html
    assert "Du 01/01/2025 au 31/03/2025, heure de Paris." in html
    assert '<option value="46">46</option>' in html and '<option value="82">82</option>' in html
    assert '<option value="12">' not in html
    links = re.findall(r'href="(/api/v1/reports/[^"]+)"', html)
    assert any("group_by=category" in link and "format=csv" in link and "sep=;" in link for link in links)
    csv = client.get(links[0].replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    chart_data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S).group(1)
    charts = json.loads(chart_data)
    assert charts["months"] == ["janv. 2025", "févr. 2025", "mars 2025"]  # March is empty, still a month
    assert len(charts["value_euros"]) == 3 and charts["value_euros"][2] == 0


def test_a_single_department_with_too_few_producers_is_masked(client, make_user, exchange_data):
    chamber_user = make_user("chamber", territory=["46", "82"])
    _sign_in(client, chamber_user)
    html = client.get("/chamber", query_string=QUARTER | {"department": "82"}).text  # one producer in 82
    assert "Trop peu de producteurs sur cette période et ce territoire : les chiffres sont masqués." in html
    assert 'class="secret"' in html


def test_other_departments_and_other_roles_are_refused(client, make_user, exchange_data):
    chamber_user = make_user("chamber", territory=["46"])
    _sign_in(client, chamber_user)
    r = client.get("/chamber", query_string=QUARTER | {"department": "12"})
    assert r.status_code == 422  # not among the form's choices
    r = client.get("/chamber", query_string={"from": "2025-03-01", "to": "2025-01-01"})
    assert r.status_code == 422 and "La fin de la période précède son début." in r.text
    client.post("/logout")
    _sign_in(client, make_user("trader"))
    assert client.get("/chamber").status_code == 403


def test_the_default_period_is_the_last_twelve_months():
    assert chamber.default_period(dt.date(2026, 11, 26)) == Period(dt.date(2025, 12, 1), dt.date(2026, 11, 26))
    assert chamber.default_period(dt.date(2026, 12, 3)) == Period(dt.date(2026, 1, 1), dt.date(2026, 12, 3))
    assert chamber.default_period(dt.date(2026, 1, 31)) == Period(dt.date(2025, 2, 1), dt.date(2026, 1, 31))
