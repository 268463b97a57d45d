"""The analyst page: hot spots on the map, charts, a logged forecast, a backtest table, access."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arverne.demo.world import seed_history
from arverne.geo.pack import build_pack, load_pack
from arverne.store.session import make_engine, make_sessionmaker
from tests.e2e.conftest import LiveServer, _prepare, _require_browser, _start, run_axe, sign_in
from tests.unit.geo.town import districts_geojson, write_town_osm

pytestmark = pytest.mark.timeout(120)
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def analysis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on the small test town's city pack with half a year of generated history.

    The town's boundary is the study area (25 m cells by default), its two districts feed
    the concentration monitor. The database is seeded before the server starts.
    """
    _require_browser()
    folder = tmp_path_factory.mktemp("e2e-analysis")
    districts = folder / "districts.geojson"
    districts.write_text(json.dumps(districts_geojson()), encoding="utf-8")
    pack = build_pack(
        write_town_osm(folder / "town.osm"), name="T", out_dir=folder / "pack", districts=districts
    )
    url = f"sqlite:///{folder / 'arverne.db'}"
    token = _prepare(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        assert seed_history(session, load_pack(pack), years=0.5, seed=11) > 5000
        session.commit()
    engine.dispose()
    yield from _start(url, token, "analysis", folder, pack)


def test_analyst_page(browser: Any, analysis_server: LiveServer, artifacts: Path) -> None:
    page = sign_in(browser, analysis_server, "analyste", viewport=VIEWPORT)
    page.goto("/console/analysis")
    page.wait_for_selector("body[data-ready='1']")
    assert "Analyse" in page.inner_text("nav.mainnav")
    assert page.locator(".an-responsible").is_visible()
    # Hot spots (Gi*, FDR, hot only) around the town's streets, trend and heat grid.
    assert int(page.get_attribute("#map", "data-cells") or 0) > 0
    assert page.locator("#map .leaflet-pane").count() > 0
    assert "maille(s) chaude(s)" in page.inner_text("#an-map-note")
    assert page.locator("#an-heat tbody tr").count() == 7
    assert page.locator("#an-heat tbody td").count() == 7 * 24
    assert page.evaluate("Boolean(Chart.getChart('an-trend'))")
    assert run_axe(page) == []

    # A forecast needs a reason; once run it is on the map and in the log.
    page.click("#an-run")
    assert page.inner_text("#f-reason-error")
    page.fill("#f-reason", "préparation des patrouilles de la semaine")
    page.click("#an-run")
    page.wait_for_selector("#an-log-table tbody tr[data-method='decay'][data-status='ok']")
    log = page.inner_text("#an-log-table tbody tr:first-child")
    assert "analyste" in log
    assert "préparation des patrouilles" in log
    assert page.is_checked("input[name='an-layer'][value='forecast']")
    page.wait_for_selector("#an-map-note:has-text('Proposition à faire approuver')")
    assert int(page.get_attribute("#map", "data-cells") or 0) > 0
    ranked = int(page.get_attribute("#map", "data-ranked") or 0)
    assert ranked > 0
    # The coverage selector ranks more of the area (5 % -> 20 %: four times the cells).
    page.select_option("#an-coverage", "0.2")
    page.wait_for_selector(f"#map:not([data-ranked='{ranked}'])")
    assert int(page.get_attribute("#map", "data-ranked") or 0) >= 4 * ranked - 3
    assert "20 %" in page.inner_text("#an-map-note")

    # A small backtest: naive and decayed counts, two weekly windows.
    page.fill("#b-train", "90")
    page.fill("#b-windows", "2")
    page.fill("#b-reason", "contrôle de la méthode")
    page.click("#an-bt-run")
    page.wait_for_selector("#an-bt-table tbody tr[data-method='oracle']", timeout=30_000)
    assert page.locator("#an-bt-table tbody tr[data-status='ok']").count() == 2
    assert page.locator("#an-bt-table thead th").count() == 2 + 5 + 1
    naive = page.inner_text("#an-bt-table tr[data-method='naive']")
    assert "HR" in naive
    assert "PAI" in naive
    assert "PEI" in naive
    assert "[" in naive  # confidence intervals
    assert "contrôle de la méthode" in page.inner_text("#an-bt-meta")
    page.wait_for_selector("#an-log-table tbody tr[data-method='backtest']")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 1366x768"
    assert run_axe(page) == []
    page.screenshot(path=str(artifacts / "analysis-1366x768.png"), full_page=True)
    page.context.close()


def test_a_dispatcher_gets_the_403_page(browser: Any, analysis_server: LiveServer) -> None:
    page = sign_in(browser, analysis_server, "operateur")
    assert "Analyse" not in page.inner_text("nav.mainnav")
    response = page.goto("/console/analysis")
    assert response is not None
    assert response.status == 403
    assert "Accès refusé" in page.inner_text("h1")
    page.context.close()
