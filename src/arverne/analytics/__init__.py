"""Analytics: statistics, hotspots, forecasting and queueing models (pure, vectorised)."""
