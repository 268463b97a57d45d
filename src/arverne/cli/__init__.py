"""Command-line interface: ``arverne serve | db | user | officer | unit | incident | ...``.

The commands are thin: they parse arguments, call services and print with Rich.
"""

from __future__ import annotations

import typer

from arverne.cli import (
    audit,
    checks,
    city,
    corrections,
    data,
    db,
    demo,
    dispatch,
    eido,
    eido_fetch,
    eido_follow,
    forecast,
    hotspots,
    maintenance,
    offences,
    officer,
    places,
    serve,
    simulate,
    stats,
    user,
)

app = typer.Typer(
    name="arverne",
    help="Arverne: open-source police operations platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(user.app, name="user")
app.add_typer(audit.app, name="audit")
app.add_typer(demo.app, name="demo")
app.add_typer(city.app, name="city")
app.add_typer(data.app, name="data")
app.add_typer(forecast.app, name="forecast")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(officer.app, name="officer")
app.add_typer(offences.app, name="offences")
dispatch.incident_app.command("update")(corrections.update)
dispatch.incident_app.command("reopen")(corrections.reopen)
dispatch.incident_app.command("history")(places.history)
dispatch.unit_app.command("check")(checks.check)
dispatch.unit_app.command("checks")(checks.list_checks)
dispatch.unit_app.command("distress")(checks.distress)
dispatch.unit_app.command("initiative")(checks.initiative)
dispatch.unit_app.command("crew")(officer.set_crew)
app.add_typer(dispatch.incident_app, name="incident")
app.add_typer(dispatch.unit_app, name="unit")
eido.app.command("follow")(eido_follow.follow_command)
eido.app.command("fetch")(eido_fetch.fetch_command)
app.add_typer(eido.app, name="eido")
app.command("dutylog")(dispatch.dutylog)
app.command("stats")(stats.stats_command)
app.command("hotspots")(hotspots.hotspots_command)
app.command("simulate")(simulate.simulate_command)


def main() -> None:
    """Entry point of the ``arverne`` console script."""
    app()
