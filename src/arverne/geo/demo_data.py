"""Names and places of the Clermont-Ferrand demo city.

Landmark positions are real (approximate, WGS84); streets are generated (see
:mod:`arverne.geo.demo_city`) and only borrow real street names where the generated layout
makes them plausible. The CHU Gabriel-Montpied sits at the position given by Wikipedia
(45°45′34″N 3°05′28″E, plateau Saint-Jacques), not the rougher one first proposed.
"""

from __future__ import annotations

# name, OSM tags, lon, lat
LANDMARKS: tuple[tuple[str, dict[str, str], float, float], ...] = (
    ("Place de Jaude", {"place": "square"}, 3.0825, 45.7772),
    ("Place de la Victoire", {"place": "square"}, 3.0865, 45.7776),
    ("Cathédrale Notre-Dame-de-l'Assomption", {"amenity": "place_of_worship"}, 3.0869, 45.7789),
    ("Basilique Notre-Dame-du-Port", {"amenity": "place_of_worship"}, 3.0888, 45.7806),
    ("Gare de Clermont-Ferrand", {"railway": "station"}, 3.1003, 45.7786),
    ("Stade Marcel-Michelin", {"leisure": "stadium"}, 3.1164, 45.7887),
    ("CHU Gabriel-Montpied", {"amenity": "hospital"}, 3.0911, 45.7594),
    ("Campus des Cézeaux", {"amenity": "university"}, 3.1110, 45.7590),
    ("Montferrand", {"place": "quarter"}, 3.1160, 45.7990),
    ("Jardin Lecoq", {"leisure": "park"}, 3.0890, 45.7720),
    ("Polydome", {"amenity": "theatre"}, 3.0960, 45.7680),
    ("Hôtel de police", {"amenity": "police"}, 3.0960, 45.7760),
    ("Hôtel de ville", {"amenity": "townhall"}, 3.0858, 45.7781),
    ("Opéra-Théâtre", {"amenity": "theatre"}, 3.0841, 45.7766),
    ("Musée d'art Roger-Quilliot", {"tourism": "museum"}, 3.1151, 45.7975),
    ("Lycée Blaise-Pascal", {"amenity": "school"}, 3.0893, 45.7752),
    ("Lycée Jeanne-d'Arc", {"amenity": "school"}, 3.0932, 45.7832),
    ("Collège Albert-Camus", {"amenity": "school"}, 3.1038, 45.7960),
    ("École élémentaire Jules-Ferry", {"amenity": "school"}, 3.0730, 45.7705),
    ("École élémentaire Jean-Zay", {"amenity": "school"}, 3.1085, 45.8050),
    ("Université Clermont Auvergne (Carnot)", {"amenity": "university"}, 3.0912, 45.7728),
    ("Caserne des pompiers", {"amenity": "fire_station"}, 3.1050, 45.7890),
)

# Bars and clubs around Jaude and in the old centre (names are generic).
NIGHTLIFE: tuple[tuple[str, str, float, float], ...] = (
    ("Le Café de la Place", "bar", 3.0829, 45.7776),
    ("Le Bistrot de Jaude", "bar", 3.0819, 45.7768),
    ("Pub Saint-Pierre", "pub", 3.0846, 45.7786),
    ("Le Comptoir des Gras", "bar", 3.0858, 45.7790),
    ("L'Estaminet", "pub", 3.0874, 45.7800),
    ("Le Zénith Club", "nightclub", 3.0838, 45.7758),
    ("La Cave aux Volcans", "bar", 3.0880, 45.7808),
    ("Le Baraka", "nightclub", 3.0812, 45.7790),
    ("Le Pub des Carmes", "pub", 3.0950, 45.7815),
    ("Le Bar du Port", "bar", 3.0893, 45.7812),
)

# Tram line A, north to south (positions approximate).
TRAM_STOPS: tuple[tuple[str, float, float], ...] = (
    ("Les Vergnes", 3.1122, 45.8105),
    ("Champratel", 3.1080, 45.8060),
    ("Croix-de-Neyrat", 3.1075, 45.8025),
    ("Hauts de Chanturgue", 3.1010, 45.7985),
    ("Stade Gabriel-Montpied", 3.0985, 45.7945),
    ("Les Pistes", 3.0960, 45.7905),
    ("Musée d'art Roger-Quilliot", 3.0950, 45.7860),
    ("Gaillard", 3.0870, 45.7830),
    ("Jaude", 3.0828, 45.7770),
    ("Lagarlaye", 3.0860, 45.7730),
    ("Saint-Jacques Dolet", 3.0920, 45.7660),
    ("CHU Gabriel-Montpied", 3.0915, 45.7605),
    ("Universités", 3.1030, 45.7600),
    ("Cézeaux Pellez", 3.1110, 45.7580),
    ("La Pardieu Gare", 3.1240, 45.7560),
)

# Quarters used as districts (seed points; the demo cuts Voronoi cells around them).
QUARTERS: tuple[tuple[str, float, float], ...] = (
    ("Centre / Jaude", 3.0845, 45.7775),
    ("Fontgiève", 3.0760, 45.7815),
    ("Saint-Alyre", 3.0840, 45.7860),
    ("Les Carmes", 3.0975, 45.7820),
    ("Gare", 3.1040, 45.7770),
    ("Saint-Jacques", 3.0930, 45.7650),
    ("Les Salins", 3.0760, 45.7700),
    ("Oradou", 3.1010, 45.7690),
    ("Les Cézeaux", 3.1110, 45.7580),
    ("Chanturgue", 3.0900, 45.7960),
    ("La Gauthière", 3.0990, 45.7980),
    ("Croix-de-Neyrat", 3.1070, 45.8030),
    ("Les Vergnes", 3.1110, 45.8090),
    ("Montferrand", 3.1160, 45.7990),
    ("Le Brézet", 3.1380, 45.7850),
    ("La Pradelle", 3.0650, 45.7900),
    ("Les Vignes", 3.0600, 45.7650),
    ("La Plaine", 3.1300, 45.7650),
)

# Old-centre ring streets (innermost first) and named radial axes (angle in degrees,
# counter-clockwise from east, measured at the cathedral).
OLD_CENTRE_RINGS: tuple[tuple[str, ...], ...] = (
    ("Rue Pascal", "Rue du Port", "Place de la Victoire", "Rue de la Treille"),
    ("Rue Blaise-Pascal", "Rue Saint-Dominique", "Rue du Terrail", "Rue Massillon",
     "Rue des Chaussetiers"),
    ("Rue du 11 Novembre", "Rue de la Rotonde", "Rue Gonod", "Rue Bonnabaud",
     "Rue Saint-Esprit", "Rue Ballainvilliers"),
    ("Rue Montlosier", "Rue Georges-Clemenceau", "Rue Pélissier", "Rue Lamartine",
     "Rue Gaultier-de-Biauzat", "Rue de l'Ange", "Rue Sainte-Rose"),
)  # fmt: skip
CENTRE_AXES: tuple[tuple[str, float], ...] = (
    ("Rue des Gras", 195.0),
    ("Rue Saint-Hérem", 60.0),
    ("Rue Fontgiève", 150.0),
    ("Rue des Jacobins", 300.0),
    ("Rue du Port-Haut", 15.0),
    ("Rue Blatin", 235.0),
)
INNER_BOULEVARDS = (
    "Boulevard Trudaine", "Boulevard Lafayette", "Boulevard Jean-Jaurès",
    "Boulevard Léon-Malfreyt", "Boulevard Desaix", "Boulevard Charles-de-Gaulle",
)  # fmt: skip
OUTER_BOULEVARDS = (
    "Boulevard Étienne-Clémentel", "Boulevard Gustave-Flaubert", "Boulevard Côte-Blatin",
    "Boulevard Gergovia", "Boulevard Pasteur", "Avenue de l'Agriculture",
)  # fmt: skip
# name, angle (degrees from east), highway class, maxspeed
RADIALS: tuple[tuple[str, float, str, str], ...] = (
    ("Avenue Carnot", 0.0, "primary", "50"),
    ("Avenue Édouard-Michelin", 25.0, "primary", "50"),
    ("Avenue de la République", 48.0, "primary", "50"),
    ("Rue de Blanzat", 95.0, "secondary", "50"),
    ("Avenue de Royat", 200.0, "secondary", "50"),
    ("Avenue Julien", 170.0, "secondary", "50"),
    ("Avenue Marx-Dormoy", 128.0, "secondary", "50"),
    ("Avenue des États-Unis", 265.0, "primary", "50"),
    ("Avenue de la Libération", 288.0, "primary", "50"),
    ("Avenue Léon-Blum", 312.0, "primary", "50"),
    ("Avenue de l'Union-Soviétique", 340.0, "secondary", "50"),
    ("Avenue du Brézet", 12.0, "secondary", "70"),
    ("Avenue Vercingétorix", 238.0, "secondary", "50"),
)
MONTFERRAND_STREETS = (
    "Rue de la Rodade", "Rue Jules-Guesde", "Rue du Séminaire", "Rue Kléber",
    "Rue des Cordeliers", "Rue Parmentier", "Rue Notre-Dame", "Rue de la Cerisaie",
    "Rue Waldeck-Rousseau", "Rue de l'Hôtel-Dieu", "Rue Marmontel", "Rue des Chaussetiers",
)  # fmt: skip

EPONYMS = (
    "Jean-Moulin", "Victor-Hugo", "Émile-Zola", "Anatole-France", "Jules-Ferry", "Pasteur",
    "Marie-Curie", "Jean-Jaurès", "Paul-Éluard", "Albert-Camus", "George-Sand", "Voltaire",
    "Jean-Zay", "Pierre-Brossolette", "Lucie-Aubrac", "Simone-Veil", "Louise-Michel",
    "Gambetta", "Michelet", "Lamartine", "Diderot", "Montesquieu", "Rabelais",
    "Molière", "Racine", "La Fontaine", "Alexandre-Dumas", "Guy-de-Maupassant",
    "Honoré-de-Balzac", "Gustave-Eiffel", "Louis-Blériot", "Henri-Pourrat",
    "Alexandre-Varenne", "Vercingétorix", "Gergovie", "Desaix", "Delille", "Chamfort",
    "Fléchier", "Grégoire-de-Tours", "Sidoine-Apollinaire", "Augustin-Fresnel",
    "Abbé-Prévost", "Charles-Péguy", "Antoine-de-Saint-Exupéry", "Jean-Giono",
    "Colette", "Olympe-de-Gouges", "Germaine-Tillion", "Joséphine-Baker", "Niépce",
    "Ampère", "Lavoisier", "Gay-Lussac", "Jules-Verne", "Marcel-Pagnol", "Édith-Piaf",
    "Frédéric-Mistral", "Claude-Debussy", "Hector-Berlioz", "Maurice-Ravel",
    "Paul-Verlaine", "Arthur-Rimbaud", "Jacques-Prévert", "Boris-Vian", "Léon-Gambetta",
    "Camille-Claudel", "Berthe-Morisot", "Auguste-Renoir", "Claude-Monet",
)  # fmt: skip
THEMES = (
    "des Tilleuls", "des Acacias", "des Platanes", "des Marronniers", "des Érables",
    "des Vignes", "des Volcans", "du Puy-de-Dôme", "de Chamalières", "de Beaumont",
    "d'Aubière", "de Durtol", "de Nohanent", "de Cébazat", "de Gerzat", "d'Aulnat",
    "de Lempdes", "de Romagnat", "de la Paix", "de la Liberté", "des Écoles", "du Stade",
    "de la Gare", "du Moulin", "de la Fontaine", "des Jardins", "des Prés", "des Sources",
    "de l'Oradou", "de la Pradelle", "des Salins", "de Montjuzet", "de Chanturgue",
    "des Côtes", "de la Croix", "du Lavoir", "des Rosiers", "des Lilas", "des Genêts",
    "des Bruyères", "des Chênes", "des Hêtres", "des Peupliers", "des Saules",
    "de l'Artière", "de la Tiretaine", "du Bédat", "des Arvernes", "de Limagne",
    "du Forez", "du Cantal", "de la Margeride", "des Combrailles", "du Livradois",
    "de la Chaîne-des-Puys", "du Sancy", "des Dômes", "des Vergers", "des Cerisiers",
    "des Pommiers", "des Noyers", "de l'Abbaye", "du Prieuré", "des Tanneurs",
    "des Forgerons", "des Tisserands", "des Potiers", "des Vignerons", "des Meuniers",
    "du Pressoir", "de la Treille", "du Colombier", "de la Garenne", "des Alouettes",
)  # fmt: skip
FIRST_NAMES = (
    "Jean", "Pierre", "Louis", "Henri", "Paul", "Jacques", "Marcel", "André", "René",
    "Georges", "Marie", "Jeanne", "Louise", "Anne", "Claire", "Hélène", "Suzanne",
    "Madeleine", "Germaine", "Simone", "Antoine", "François", "Michel", "Roger", "Lucien",
)  # fmt: skip
SURNAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
    "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "Andrieux", "Mercier",
    "Bonnet", "Dupuy", "Lambert", "Fontaine", "Rousseau", "Chabrier", "Mallet", "Aubert",
    "Besson", "Chassaing", "Faure", "Gaillard", "Chabrol", "Jouve", "Rouchon", "Vialle",
)  # fmt: skip
SHOP_NAMES = (
    "Boulangerie", "Pharmacie", "Librairie", "Fromagerie", "Fleuriste", "Boucherie",
    "Tabac-Presse", "Opticien", "Bijouterie", "Chaussures", "Épicerie fine", "Pâtisserie",
)  # fmt: skip
