"""What a report covers: a period and a territory, and who may ask for which."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from exchange.domain.errors import Forbidden
from exchange.models import User
from exchange.reports.periods import Period


@dataclass(frozen=True, slots=True)
class Scope:
    period: Period
    departments: tuple[str, ...] | None  # None: every department (an admin's view)


def scope_for(user: User, period: Period, department: str | None = None) -> Scope:
    """A chamber sees its own departments only (asking for another one is refused); an admin sees any."""
    code = department.strip().upper() if department else None
    if user.has_role("admin"):
        return Scope(period, (code,) if code else None)
    if not user.has_role("chamber"):
        raise Forbidden(_l("Les rapports sont réservés aux chambres et aux administrateurs."))
    territory = tuple(sorted({c.strip().upper() for c in user.territory or () if c and c.strip()}))
    if code is None:
        return Scope(period, territory)
    if code not in territory:
        raise Forbidden(_l("Le département %(code)s n'est pas dans votre territoire.", code=code),
                        code="outside_territory")
    return Scope(period, (code,))
