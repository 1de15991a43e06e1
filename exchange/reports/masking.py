"""Statistical confidentiality: no figure may let anyone work out one producer's business.

A cell with fewer than REPORT_MIN_PRODUCERS distinct producers is masked (primary secrecy, as
public statistics do). When a report also shows the total, a single masked cell could be worked
out as the total minus the other cells; one more cell is then masked (secondary secrecy): the
visible cell with the fewest producers, so that as little as possible is hidden.
"""
from __future__ import annotations

from typing import Callable


def protect(cells: list[dict], total_masked: bool, size: Callable[[dict], tuple]) -> bool:
    """Mask a second cell when exactly one is masked beside a visible total; True when it did."""
    masked = [cell for cell in cells if cell["masked"]]
    if total_masked or len(masked) != 1:
        return False
    visible = [cell for cell in cells if not cell["masked"] and cell["producers"] > 0]
    if not visible:
        return False
    min(visible, key=size)["masked"] = True
    return True
