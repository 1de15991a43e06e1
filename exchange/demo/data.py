"""The demo region: real communes around Cahors, farms with what they grow, traders in market towns.

Prices are wholesale, in cents excluding VAT, for late autumn in the Quercy (the demo's season is
shifted by month in history.py). Product names are what a producer would type.
"""

# (postcode, commune, farm name, kinds of product it offers)
FARMS = [
    ("46090", "Pradines", "Les Jardins de Pradines", ("legumes",)),
    ("46090", "Mercuès", "Domaine du Vieux Pressoir", ("vin", "jus")),
    ("46090", "Arcambal", "GAEC des Deux Rives", ("legumes", "oeufs")),
    ("46230", "Lalbenque", "Truffière de Lalbenque", ("truffe", "noix")),
    ("46230", "Cieurac", "Ferme de Cieurac", ("agneau",)),
    ("46140", "Luzech", "Le Potager de Luzech", ("legumes",)),
    ("46140", "Parnac", "Château Parnac", ("vin",)),
    ("46700", "Puy-l'Évêque", "Vergers de Puy-l'Évêque", ("fruits", "jus")),
    ("46700", "Duravel", "Mas de Duravel", ("vin",)),
    ("46220", "Prayssac", "Ferme des Cèdres", ("legumes", "oeufs")),
    ("46150", "Catus", "La Chèvrerie de Catus", ("fromage",)),
    ("46310", "Saint-Germain-du-Bel-Air", "Bergerie du Bel-Air", ("agneau", "fromage")),
    ("46300", "Gourdon", "Les Ruchers de la Bouriane", ("miel",)),
    ("46300", "Gourdon", "Noyeraie de Gourdon", ("noix",)),
    ("46200", "Souillac", "Ferme du Pech", ("canard",)),
    ("46500", "Gramat", "Causse et Chèvres", ("fromage",)),
    ("46500", "Rocamadour", "Fromagerie de l'Alzou", ("fromage",)),
    ("46100", "Figeac", "Les Paniers du Célé", ("legumes",)),
    ("46100", "Capdenac", "Maraîchage de Capdenac", ("legumes", "fruits")),
    ("46160", "Cajarc", "Moulin de Cajarc", ("farine",)),
    ("46330", "Saint-Cirq-Lapopie", "Le Jardin Perché", ("legumes", "plants")),
    ("46400", "Saint-Céré", "Vergers du Haut-Quercy", ("fruits", "jus")),
    ("46600", "Martel", "Ferme des Noyers de Martel", ("noix", "farine")),
    ("46110", "Vayrac", "Les Poules de Vayrac", ("oeufs",)),
    ("46170", "Castelnau-Montratier", "Ferme de Castelnau", ("agneau", "legumes")),
    ("46800", "Montcuq-en-Quercy-Blanc", "Melons et Merveilles", ("fruits", "legumes")),
    ("46240", "Labastide-Murat", "Élevage du Causse", ("porc",)),
    ("46120", "Lacapelle-Marival", "Ferme de Lacapelle", ("porc", "oeufs")),
    ("82000", "Montauban", "Jardins du Tarn", ("legumes",)),
    ("82300", "Caussade", "Ferme Quercy Caussadais", ("canard",)),
    ("82200", "Moissac", "Chasselas de Moissac", ("fruits",)),
    ("82160", "Caylus", "Les Ruches de Caylus", ("miel",)),
    ("82140", "Saint-Antonin-Noble-Val", "Ferme de la Vère", ("legumes", "fromage")),
    ("82110", "Lauzerte", "Vergers de Lauzerte", ("fruits",)),
    ("12200", "Villefranche-de-Rouergue", "GAEC du Rouergue", ("porc", "legumes")),
    ("12700", "Capdenac-Gare", "Ferme de la Diège", ("oeufs", "legumes")),
    ("24200", "Sarlat-la-Canéda", "Noix du Sarladais", ("noix", "canard")),
    ("24250", "Domme", "Les Jardins de Domme", ("legumes", "plants")),
    ("47500", "Fumel", "Ferme de la Lémance", ("fruits", "legumes")),
    ("19500", "Meyssac", "Cave de Meyssac", ("vin", "jus")),
]

# (postcode, commune, trade name, kind of buyer)
TRADERS = [
    ("46000", "Cahors", "Primeur du Marché Cahors", "étal de marché"),
    ("46000", "Cahors", "Restaurant Le Lamparo", "restaurant"),
    ("46000", "Cahors", "Cantine centrale de Cahors", "restauration collective"),
    ("46100", "Figeac", "Épicerie du Célé", "épicerie"),
    ("46300", "Gourdon", "Halles de Gourdon", "étal de marché"),
    ("46200", "Souillac", "Auberge de Souillac", "restaurant"),
    ("46500", "Gramat", "Épicerie fine de Gramat", "épicerie"),
    ("46400", "Saint-Céré", "Marché de Saint-Céré", "étal de marché"),
    ("82000", "Montauban", "Primeurs de Montauban", "grossiste"),
    ("82300", "Caussade", "Bistrot de Caussade", "restaurant"),
    ("82200", "Moissac", "Cuisine centrale de Moissac", "restauration collective"),
    ("12200", "Villefranche-de-Rouergue", "Marché de Villefranche", "étal de marché"),
    ("24200", "Sarlat-la-Canéda", "Table du Sarladais", "restaurant"),
    ("19100", "Brive-la-Gaillarde", "Halle Georges-Brassens", "étal de marché"),
    ("47300", "Villeneuve-sur-Lot", "Épicerie Villeneuvoise", "épicerie"),
]

# kind -> [(product, category, unit, low price, high price (cents), lot size low, high, labels)]
PRODUCTS = {
    "legumes": [
        ("Poireaux", "vegetables", "kg", 180, 260, 20, 120, ()),
        ("Carottes des sables", "vegetables", "kg", 110, 170, 30, 200, ()),
        ("Courge butternut", "vegetables", "kg", 150, 230, 30, 150, ()),
        ("Potimarron", "vegetables", "kg", 170, 260, 20, 120, ("organic",)),
        ("Pommes de terre Agata", "vegetables", "kg", 90, 140, 50, 400, ()),
        ("Chou vert frisé", "vegetables", "piece", 120, 190, 20, 80, ()),
        ("Céleri-rave", "vegetables", "kg", 160, 240, 15, 80, ()),
        ("Betteraves crues", "vegetables", "kg", 140, 210, 15, 90, ("organic",)),
        ("Navets violets", "vegetables", "bunch", 150, 220, 15, 60, ()),
        ("Mâche", "vegetables", "kg", 900, 1400, 3, 15, ("organic",)),
        ("Épinards", "vegetables", "kg", 380, 560, 5, 30, ()),
        ("Oignons jaunes", "vegetables", "kg", 100, 150, 40, 300, ()),
    ],
    "fruits": [
        ("Pommes Reinette grise", "fruits", "kg", 160, 240, 50, 300, ()),
        ("Pommes Golden", "fruits", "kg", 130, 190, 80, 500, ()),
        ("Poires Conférence", "fruits", "kg", 190, 280, 40, 200, ()),
        ("Kiwis", "fruits", "kg", 250, 360, 30, 150, ("organic",)),
        ("Chasselas de Moissac", "fruits", "kg", 380, 520, 20, 100, ("aop",)),
        ("Coings", "fruits", "kg", 200, 300, 10, 50, ()),
    ],
    "noix": [
        ("Noix du Périgord", "fruits", "kg", 450, 650, 20, 200, ("aop",)),
        ("Cerneaux de noix", "fruits", "kg", 1600, 2200, 5, 40, ("aop",)),
        ("Châtaignes", "fruits", "kg", 350, 500, 20, 100, ()),
    ],
    "truffe": [
        ("Truffe noire du Quercy", "vegetables", "kg", 60000, 90000, 1, 4, ()),
    ],
    "vin": [
        ("Vin de Cahors rouge (bouteille 75 cl)", "drinks", "piece", 550, 1100, 60, 600, ("aoc",)),
        ("Malbec rosé (bouteille 75 cl)", "drinks", "piece", 450, 700, 60, 300, ()),
    ],
    "jus": [
        ("Jus de pomme", "drinks", "litre", 220, 320, 50, 300, ()),
        ("Jus de raisin", "drinks", "litre", 280, 380, 40, 200, ()),
    ],
    "fromage": [
        ("Rocamadour AOP", "dairy", "piece", 95, 140, 100, 800, ("aop",)),
        ("Tomme de chèvre", "dairy", "kg", 1600, 2200, 5, 30, ()),
        ("Lait cru de chèvre", "dairy", "litre", 110, 160, 30, 200, ()),
        ("Yaourts fermiers (pot)", "dairy", "piece", 45, 70, 100, 600, ()),
    ],
    "agneau": [
        ("Agneau fermier du Quercy (demi-carcasse)", "meat", "kg", 1150, 1450, 40, 150, ("label_rouge", "igp")),
        ("Gigot d'agneau", "meat", "kg", 1800, 2400, 10, 40, ("igp",)),
    ],
    "canard": [
        ("Magrets de canard", "meat", "kg", 1900, 2500, 10, 50, ("igp",)),
        ("Foie gras de canard cru", "meat", "kg", 4200, 5600, 3, 20, ("igp",)),
        ("Confit de canard (bocal)", "meat", "piece", 900, 1300, 20, 120, ()),
    ],
    "porc": [
        ("Porc fermier (caissette 5 kg)", "meat", "crate", 5500, 7500, 5, 30, ()),
        ("Saucisses de Toulouse", "meat", "kg", 1000, 1400, 10, 60, ()),
    ],
    "oeufs": [
        ("Œufs plein air (plateau de 30)", "eggs", "crate", 750, 1000, 10, 80, ()),
        ("Œufs bio (unité)", "eggs", "piece", 28, 38, 300, 2000, ("organic",)),
    ],
    "miel": [
        ("Miel de châtaignier", "honey", "kg", 1200, 1600, 10, 80, ()),
        ("Miel toutes fleurs", "honey", "kg", 1000, 1400, 10, 100, ()),
    ],
    "farine": [
        ("Farine de blé T80", "grains", "kg", 160, 240, 50, 300, ("organic",)),
        ("Lentilles vertes", "grains", "kg", 380, 520, 20, 150, ()),
        ("Huile de noix", "other", "litre", 2400, 3200, 5, 40, ()),
    ],
    "plants": [
        ("Plants d'aromatiques (godet)", "plants", "piece", 120, 200, 50, 300, ()),
        ("Sapin de Noël (1,50 m)", "plants", "piece", 1800, 2600, 20, 120, ()),
    ],
}

PICKUP_HOURS = [
    {"mon": ["07:00-12:00"], "wed": ["07:00-12:00"], "fri": ["07:00-12:00", "14:00-18:00"]},
    {"tue": ["06:30-10:00"], "thu": ["06:30-10:00"], "sat": ["06:00-09:00"]},
    {"mon": ["08:00-12:00", "14:00-18:00"], "tue": ["08:00-12:00", "14:00-18:00"],
     "wed": ["08:00-12:00", "14:00-18:00"], "thu": ["08:00-12:00", "14:00-18:00"],
     "fri": ["08:00-12:00", "14:00-18:00"]},
    {"wed": ["16:00-19:00"], "sat": ["09:00-12:00"]},
]

DEMO_PASSWORD = "carreau-demo"
DEMO_LOGINS = {
    "producer": "producteur@demo.carreau.fr",
    "trader": "commercant@demo.carreau.fr",
    "chamber": "chambre@demo.carreau.fr",
    "admin": "admin@demo.carreau.fr",
}
