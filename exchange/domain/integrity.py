"""The stock invariant, checked over every lot: nothing oversold, nothing lost, every change recorded.

For each lot:
  quantity_available + Σ quantity of its pending, confirmed and collected reservations = quantity_offered,
  Σ StockMovement.delta_offered = quantity_offered, and Σ StockMovement.delta_available = quantity_available.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, type_coerce

from exchange.extensions import db
from exchange.models import Lot, Reservation, StockMovement
from exchange.models.reservations import HOLDING_STATUSES
from exchange.models.types import Quantity


@dataclass(frozen=True)
class LotBalance:
    lot_id: int
    quantity_offered: Decimal
    quantity_available: Decimal
    quantity_held: Decimal
    movements_offered: Decimal
    movements_available: Decimal

    @property
    def problems(self) -> list[str]:
        found = []
        if self.quantity_available + self.quantity_held != self.quantity_offered:
            found.append(f"available {self.quantity_available} + held {self.quantity_held} "
                         f"!= offered {self.quantity_offered}")
        if self.movements_offered != self.quantity_offered:
            found.append(f"movements offered {self.movements_offered} != offered {self.quantity_offered}")
        if self.movements_available != self.quantity_available:
            found.append(f"movements available {self.movements_available} != available {self.quantity_available}")
        return found


def _total(column):
    # Sums stay in thousandths (integers) in SQL; the Quantity type turns them back into exact Decimals.
    return type_coerce(func.coalesce(func.sum(column), 0), Quantity)


def lot_balances(lot_ids: list[int] | None = None) -> list[LotBalance]:
    """Each lot's stock beside what its reservations hold and what its movements add up to."""
    held = (select(Reservation.lot_id, _total(Reservation.quantity).label("held"))
            .where(Reservation.status.in_(HOLDING_STATUSES)).group_by(Reservation.lot_id).subquery())
    moved = (select(StockMovement.lot_id, _total(StockMovement.delta_offered).label("offered"),
                    _total(StockMovement.delta_available).label("available"))
             .group_by(StockMovement.lot_id).subquery())
    zero = Decimal(0)
    query = (select(Lot.id, Lot.quantity_offered, Lot.quantity_available, held.c.held, moved.c.offered,
                    moved.c.available)
             .outerjoin(held, held.c.lot_id == Lot.id).outerjoin(moved, moved.c.lot_id == Lot.id).order_by(Lot.id))
    if lot_ids is not None:
        query = query.where(Lot.id.in_(lot_ids))
    return [LotBalance(row.id, row.quantity_offered, row.quantity_available, row.held or zero, row.offered or zero,
                       row.available or zero) for row in db.session.execute(query)]


def check_integrity(lot_ids: list[int] | None = None) -> list[LotBalance]:
    """The lots whose stock does not add up (an empty list when all is well)."""
    return [balance for balance in lot_balances(lot_ids) if balance.problems]
