"""All models, imported here so that Alembic and the app see every table."""
from exchange.models.accounts import ApiToken, Role, User
from exchange.models.farms import Farm
from exchange.models.feed import FeedCounter, FeedEvent
from exchange.models.lots import CATEGORIES, LABELS, UNITS, Lot, LotStatus, StockMovement
from exchange.models.reports import (ReportLotTotals, ReportLotTrader, ReportMonthProducer, ReportMonthTrader,
                                    ReportSnapshot)
from exchange.models.reservations import Reservation, ReservationStatus, ReservationTransition
from exchange.models.watches import Watch, WatchChange, WatchVersion

__all__ = [
    "ApiToken", "Role", "User", "Farm", "FeedCounter", "FeedEvent", "CATEGORIES", "LABELS", "UNITS", "Lot",
    "LotStatus", "StockMovement", "ReportLotTotals", "ReportLotTrader", "ReportMonthProducer", "ReportMonthTrader",
    "ReportSnapshot",
    "Reservation", "ReservationStatus", "ReservationTransition",
    "Watch", "WatchChange", "WatchVersion",
]
