"""The chamber's dashboard: its territory's figures, charts, tables and CSV downloads."""
from __future__ import annotations

import datetime as dt

from flask import render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from exchange.domain.errors import InvalidInput
from exchange.reports.periods import PARIS, Period
from exchange.reports.prices import price_stats
from exchange.reports.scope import scope_for
from exchange.reports.summary import summary
from exchange.web import labels
from exchange.web.forms import ReportForm
from exchange.web.pages import bp, form_error, role_required

CSV_GROUPINGS = ("category", "month", "department", "commune", "product")


def default_period(today: dt.date) -> Period:
    """The last twelve months, this one included: a year of seasons at a glance."""
    first = dt.date(today.year - (today.month < 12), today.month % 12 + 1, 1)
    return Period(first, today)


def _month_label(key: str) -> str:
    return format_date(dt.date(int(key[:4]), int(key[5:7]), 1), "MMM yyyy")


def _kg(row: dict, figure: str):
    cell = next((u for u in row["units"] if u["unit"] == "kg"), None)
    if cell is None:
        return 0.0
    return None if cell["masked"] else cell[figure]


def charts(by_month: dict, by_category: dict) -> dict:
    """The charts' data: masked figures are null, so that a chart shows a gap where the table says « secret »."""
    months = by_month["rows"]
    figure = lambda row, name: None if row["masked"] else row[name]  # noqa: E731
    return {
        "months": [_month_label(row["month"]) for row in months],
        "value_euros": [None if row["masked"] else row["value_collected_cents"] / 100 for row in months],
        "kg_offered": [_kg(row, "quantity_offered") for row in months],
        "kg_collected": [_kg(row, "quantity_collected") for row in months],
        "distance_mean_km": [figure(row, "distance_mean_km") for row in months],
        "lots_posted": [figure(row, "lots_posted") for row in months],
        "categories": [str(labels.CATEGORY_LABELS.get(row["category"], row["category"])) for row in by_category["rows"]],
        "category_value_euros": [None if row["masked"] else row["value_collected_cents"] / 100
                                 for row in by_category["rows"]],
    }


def csv_links(period: Period, department: str | None) -> list[tuple[str, str]]:
    """Downloads for spreadsheets: semicolons and decimal commas, as French Excel expects."""
    query = {"from": period.first.isoformat(), "to": period.last.isoformat(), "format": "csv", "sep": ";"}
    if department:
        query["department"] = department
    names = {"category": _("Par catégorie"), "month": _("Par mois"), "department": _("Par département"),
             "commune": _("Par commune"), "product": _("Par produit")}
    links = [(names[g], url_for("reports.Summary", group_by=g, **query)) for g in CSV_GROUPINGS]
    links.append((_("Prix par produit"), url_for("reports.Prices", basis="collected", **query)))
    return links


@bp.get("/chamber")
@role_required("chamber", "admin")
def chamber_dashboard():
    """The territory at a glance: what was offered and collected, by whom, at what price, how far it travelled."""
    territory = sorted(current_user.territory or ())
    form = ReportForm(request.args)
    form.department.choices = [SelectChoice("", _("Tout le territoire"))] + [SelectChoice(c, c) for c in territory]
    today = dt.datetime.now(PARIS).date()
    period = default_period(today)
    department = None
    if form.validate():
        department = form.department.data or None
        try:
            period = Period(form.from_.data or period.first, form.to.data or today)
        except InvalidInput as exc:
            form_error(form, exc)
    form.from_.data, form.to.data = period.first, period.last
    scope = scope_for(current_user, period, department)
    by_category = summary(scope, ("category",))
    by_month = summary(scope, ("month",))
    prices = price_stats(scope, "collected")
    # Most sold first; masked products (too few producers) last.
    price_rows = sorted(prices["rows"], key=lambda row: (row["masked"], -(row["observations"] or 0), row["product"]))
    return render_template("chamber/dashboard.html", form=form, period=period, department=department,
                           total=by_category["total"], by_category=by_category, by_month=by_month,
                           price_rows=price_rows,
                           charts=charts(by_month, by_category), csv_links=csv_links(period, department),
                           territory=territory), 200 if not form.errors else 422
