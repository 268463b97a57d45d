"""City model: OSM city packs, road graph, travel-time routing, geocoding, districts (pure)."""
