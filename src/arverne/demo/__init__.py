"""The demo world: fictional accounts (and, with the city model, the Clermont-Ferrand pack)."""
