"""Common products of French farms, as producers name them: suggestions for the new-lot form.

Each suggestion fills in the category and the usual wholesale unit; the producer's own history
(queries.product_memory) comes first and also brings back their last price.
"""
from __future__ import annotations

# (product, category, unit)
PRODUCTS: list[tuple[str, str, str]] = [
    ("Tomates", "vegetables", "kg"), ("Tomates cerises", "vegetables", "kg"), ("Courgettes", "vegetables", "kg"),
    ("Aubergines", "vegetables", "kg"), ("Poivrons", "vegetables", "kg"), ("Concombres", "vegetables", "piece"),
    ("Salades", "vegetables", "piece"), ("Laitues", "vegetables", "piece"), ("Mâche", "vegetables", "kg"),
    ("Épinards", "vegetables", "kg"), ("Carottes", "vegetables", "kg"), ("Carottes en botte", "vegetables", "bunch"),
    ("Radis", "vegetables", "bunch"), ("Poireaux", "vegetables", "kg"), ("Pommes de terre", "vegetables", "kg"),
    ("Oignons", "vegetables", "kg"), ("Échalotes", "vegetables", "kg"), ("Ail", "vegetables", "kg"),
    ("Betteraves", "vegetables", "kg"), ("Navets", "vegetables", "kg"), ("Céleri-rave", "vegetables", "piece"),
    ("Choux", "vegetables", "piece"), ("Chou-fleur", "vegetables", "piece"), ("Brocolis", "vegetables", "kg"),
    ("Courges", "vegetables", "kg"), ("Potimarrons", "vegetables", "kg"), ("Haricots verts", "vegetables", "kg"),
    ("Petits pois", "vegetables", "kg"), ("Fèves", "vegetables", "kg"), ("Asperges", "vegetables", "kg"),
    ("Champignons", "vegetables", "kg"), ("Herbes aromatiques", "vegetables", "bunch"),
    ("Pommes", "fruits", "kg"), ("Poires", "fruits", "kg"), ("Fraises", "fruits", "kg"),
    ("Framboises", "fruits", "kg"), ("Cerises", "fruits", "kg"), ("Abricots", "fruits", "kg"),
    ("Pêches", "fruits", "kg"), ("Prunes", "fruits", "kg"), ("Melons", "fruits", "piece"),
    ("Raisin de table", "fruits", "kg"), ("Chasselas", "fruits", "kg"), ("Kiwis", "fruits", "kg"),
    ("Figues", "fruits", "kg"), ("Noix", "fruits", "kg"), ("Noix cerneaux", "fruits", "kg"),
    ("Châtaignes", "fruits", "kg"),
    ("Lait cru", "dairy", "litre"), ("Fromage de chèvre", "dairy", "piece"), ("Rocamadour", "dairy", "piece"),
    ("Tomme", "dairy", "kg"), ("Yaourts", "dairy", "piece"), ("Beurre", "dairy", "kg"), ("Crème", "dairy", "litre"),
    ("Agneau", "meat", "kg"), ("Porc", "meat", "kg"), ("Bœuf", "meat", "kg"), ("Veau", "meat", "kg"),
    ("Volaille", "meat", "kg"), ("Canard gras", "meat", "kg"), ("Foie gras", "meat", "kg"),
    ("Œufs", "eggs", "piece"), ("Œufs plein air", "eggs", "piece"),
    ("Miel", "honey", "kg"), ("Miel de châtaignier", "honey", "kg"), ("Miel toutes fleurs", "honey", "kg"),
    ("Farine de blé", "grains", "kg"), ("Farine de sarrasin", "grains", "kg"), ("Lentilles", "grains", "kg"),
    ("Pois chiches", "grains", "kg"),
    ("Jus de pomme", "drinks", "litre"), ("Vin rouge", "drinks", "litre"), ("Cidre", "drinks", "litre"),
    ("Plants de tomates", "plants", "piece"), ("Plants de salades", "plants", "piece"),
    ("Truffes", "other", "kg"), ("Safran", "other", "piece"),
]


def suggestions() -> list[dict]:
    return [{"product": product, "category": category, "unit": unit} for product, category, unit in PRODUCTS]
