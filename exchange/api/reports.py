"""Territorial reports over the API: summary, prices, chart series and monthly snapshots (chambers, admins)."""
from __future__ import annotations

import re

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from exchange.api import PAGINATION
from exchange.api.access import roles, with_role
from exchange.api.fields import Quantity
from exchange.extensions import db
from exchange.models import UNITS
from exchange.reports import export, snapshots
from exchange.reports.dimensions import DIMENSIONS
from exchange.reports.periods import MAX_SPAN_DAYS, Period
from exchange.reports.prices import BASES, price_stats
from exchange.reports.scope import scope_for
from exchange.reports.series import METRICS, series
from exchange.reports.summary import MAX_DIMENSIONS, summary

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Territorial reports for chambers")

Text = fields.String
DEPARTMENT = re.compile(r"^(\d{2}|2[AB]|97\d)$")
CSV_RESPONSE = {"schema": {"type": "string"}, "content_type": "text/csv", "success": True,
                "description": "With `format=csv`: UTF-8 with a BOM; `sep=;` gives semicolons and decimal commas "
                               "for French spreadsheets."}


# --- query schemas -------------------------------------------------------------------------------

class ReportQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    from_ = fields.Date(required=True, data_key="from",
                        metadata={"description": "First day (ISO date, Europe/Paris), included."})
    to = fields.Date(required=True, metadata={"description": f"Last day, included; at most {MAX_SPAN_DAYS} days "
                                                             "after `from`."})
    department = Text(validate=validate.Regexp(DEPARTMENT, error="A department code: 46, 2A, 971."),
                      metadata={"description": "One department; a chamber may only name one of its own (else 403). "
                                               "Default: the chamber's whole territory (an admin's: all)."})


class Csv(Schema):
    format = Text(load_default="json", validate=validate.OneOf(["json", "csv"]))
    sep = Text(load_default=",", validate=validate.OneOf(export.SEPARATORS),
               metadata={"description": "CSV separator: `;` also switches to decimal commas."})


def _grouping(value: str) -> tuple[str, ...]:
    dims = tuple(part.strip() for part in value.split(",") if part.strip())
    if not dims or len(dims) > MAX_DIMENSIONS or len(set(dims)) != len(dims) or set(dims) - set(DIMENSIONS):
        raise ValidationError(f"One of {', '.join(DIMENSIONS)}, or two of them separated by a comma.")
    return dims


class GroupBy(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return _grouping(super()._deserialize(value, attr, data, **kwargs))


class SummaryQuery(ReportQuery, Csv):
    group_by = GroupBy(load_default=("category",), metadata={
        "description": "category, department, commune, month or product; or two of them, e.g. `department,month`."})


class PricesQuery(ReportQuery, Csv):
    basis = Text(load_default="collected", validate=validate.OneOf(BASES), metadata={
        "description": "`collected`: unit prices paid in collected reservations; `offered`: asking prices of lots."})


class SeriesQuery(ReportQuery):
    metric = Text(required=True, validate=validate.OneOf(METRICS))
    group_by = Text(load_default="month", validate=validate.OneOf(DIMENSIONS))
    unit = Text(load_default="kg", validate=validate.OneOf(UNITS),
                metadata={"description": "For quantities and sell-through (km_per_kg is always kg)."})


class SnapshotQuery(Csv):
    section = Text(load_default="category", validate=validate.OneOf(snapshots.SECTIONS),
                   metadata={"description": "Which part of the snapshot the CSV holds."})


# --- answer schemas (for the OpenAPI description; the figures are documented in docs/reports.md) ----

class StatesOut(Schema):
    collected = fields.Integer()
    declined = fields.Integer()
    cancelled = fields.Integer()
    expired = fields.Integer()
    no_show = fields.Integer()
    open = fields.Integer(metadata={"description": "Still pending or confirmed."})


class UnitOut(Schema):
    unit = Text()
    masked = fields.Boolean()
    producers_active = fields.Integer(allow_none=True)
    quantity_offered = Quantity(allow_none=True)
    quantity_reserved = Quantity(allow_none=True, metadata={"description": "Held or collected (not given back)."})
    quantity_collected = Quantity(allow_none=True)
    sell_through = fields.Float(allow_none=True, metadata={"description": "Collected ÷ offered, 0 to 1."})
    km_per_kg = fields.Float(allow_none=True, metadata={"description": "Food-miles: km driven per kg collected."})


class FiguresOut(Schema):
    masked = fields.Boolean(metadata={"description": "Fewer producers than the threshold: figures are null."})
    lots_posted = fields.Integer(allow_none=True)
    producers_active = fields.Integer(allow_none=True)
    traders_active = fields.Integer(allow_none=True)
    value_collected_cents = fields.Integer(allow_none=True)
    reservations = fields.Nested(StatesOut, allow_none=True)
    distance_mean_km = fields.Float(allow_none=True)
    distance_total_km = fields.Float(allow_none=True)
    units = fields.List(fields.Nested(UnitOut))


class RowOut(FiguresOut):
    category = Text()
    department = Text()
    commune = Text(metadata={"description": "INSEE code"})
    commune_name = Text()
    month = Text(metadata={"description": "YYYY-MM, Europe/Paris"})
    product = Text(metadata={"description": "Lower-cased name: the grouping key"})
    product_name = Text()


class ReportHead(Schema):
    from_ = Text(data_key="from", attribute="from", metadata={"description": "ISO date"})
    to = Text(metadata={"description": "ISO date"})
    departments = fields.List(Text(), allow_none=True, metadata={"description": "null: every department"})
    min_producers = fields.Integer()


class SummaryOut(ReportHead):
    group_by = fields.List(Text())
    rows = fields.List(fields.Nested(RowOut))
    total = fields.Nested(FiguresOut)


class PriceOut(Schema):
    product = Text()
    product_name = Text()
    category = Text()
    unit = Text()
    masked = fields.Boolean()
    observations = fields.Integer(allow_none=True)
    producers_active = fields.Integer(allow_none=True)
    min_cents = fields.Integer(allow_none=True)
    q1_cents = fields.Float(allow_none=True)
    median_cents = fields.Float(allow_none=True)
    q3_cents = fields.Float(allow_none=True)
    max_cents = fields.Integer(allow_none=True)
    mean_cents = fields.Float(allow_none=True)


class PricesOut(ReportHead):
    basis = Text()
    rows = fields.List(fields.Nested(PriceOut))


class PointOut(Schema):
    key = Text()
    label = Text()
    value = fields.Raw(allow_none=True, metadata={"type": "number"})
    masked = fields.Boolean()


class SeriesOut(Schema):
    metric = Text()
    group_by = Text()
    unit = Text(allow_none=True)
    from_ = Text(data_key="from", attribute="from")
    to = Text()
    departments = fields.List(Text(), allow_none=True)
    points = fields.List(fields.Nested(PointOut))


class SnapshotOut(Schema):
    id = fields.Integer()
    chamber_id = fields.Integer()
    month = Text()
    territory = fields.List(Text())
    min_producers = fields.Integer()
    taken_at = fields.AwareDateTime()


class SnapshotFullOut(SnapshotOut):
    data = fields.Dict(metadata={"description": "Summaries by category, department, commune, product; prices."})


# --- views -----------------------------------------------------------------------------------------

def _scope(query: dict):
    return scope_for(with_role("chamber", "admin"), Period(query["from_"], query["to"]), query.get("department"))


def csv_response(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def _filename(kind: str, report: dict, *extra: str) -> str:
    return "-".join(["carreau", kind, report["from"], report["to"], *extra]) + ".csv"


@blp.route("/reports/summary")
class Summary(MethodView):
    @roles("chamber", "admin")
    @blp.arguments(SummaryQuery, location="query")
    @blp.response(200, SummaryOut)
    @blp.alt_response(200, **CSV_RESPONSE)
    def get(self, query):
        """Lots, volumes per unit, value, activity, outcomes and food-miles for a territory and period."""
        report = summary(_scope(query), query["group_by"])
        if query["format"] == "csv":
            return csv_response(export.summary_csv(report, query["sep"]),
                                _filename("summary", report, "-".join(query["group_by"])))
        return report


@blp.route("/reports/prices")
class Prices(MethodView):
    @roles("chamber", "admin")
    @blp.arguments(PricesQuery, location="query")
    @blp.response(200, PricesOut)
    @blp.alt_response(200, **CSV_RESPONSE)
    def get(self, query):
        """Unit prices by product and unit (min, quartiles, median, max): are producers paid fairly?"""
        report = price_stats(_scope(query), query["basis"])
        if query["format"] == "csv":
            return csv_response(export.prices_csv(report, query["sep"]), _filename("prices", report, query["basis"]))
        return report


@blp.route("/reports/series")
class Series(MethodView):
    @roles("chamber", "admin")
    @blp.arguments(SeriesQuery, location="query")
    @blp.response(200, SeriesOut)
    def get(self, query):
        """One figure along one dimension, for the dashboard's charts; masked points are null."""
        return series(_scope(query), query["metric"], query["group_by"], query["unit"])


@blp.route("/reports/snapshots")
class Snapshots(MethodView):
    @roles("chamber", "admin")
    @blp.response(200, SnapshotOut(many=True))
    @blp.paginate(**PAGINATION)
    def get(self, pagination_parameters):
        """Monthly snapshots: a chamber's own, newest first (an admin sees every chamber's)."""
        stmt = snapshots.snapshots_for(with_role("chamber", "admin"))
        page = db.paginate(stmt, page=pagination_parameters.page, per_page=pagination_parameters.page_size,
                           error_out=False)
        pagination_parameters.item_count = page.total
        return page.items


@blp.route("/reports/snapshots/<int:snapshot_id>")
class SnapshotById(MethodView):
    @roles("chamber", "admin")
    @blp.arguments(SnapshotQuery, location="query")
    @blp.response(200, SnapshotFullOut)
    @blp.alt_response(200, **CSV_RESPONSE)
    def get(self, query, snapshot_id):
        """One monthly snapshot, whole as JSON, or one section as CSV."""
        snapshot = snapshots.get_snapshot(with_role("chamber", "admin"), snapshot_id)
        if query["format"] == "csv":
            section = query["section"]
            render = export.prices_csv if section == "prices" else export.summary_csv
            return csv_response(render(snapshot.data[section], query["sep"]),
                                f"carreau-{snapshot.month}-chamber{snapshot.chamber_id}-{section}.csv")
        return snapshot
