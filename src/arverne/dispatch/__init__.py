"""Computer-aided dispatch: calls, incidents, units, recommendation, dispatch, duty log."""
