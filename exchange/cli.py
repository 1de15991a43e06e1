"""Operator commands: `flask --app wsgi users create`, `seed-demo`, ..."""
from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from exchange.domain import accounts
from exchange.domain.errors import DomainError

users = AppGroup("users", help="Accounts that nobody may register themselves (chambers, admins).")


@users.command("create")
@click.option("--role", type=click.Choice(["producer", "trader", "chamber", "admin"]), required=True)
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", required=True)
@click.option("--territory", default="", help="Department codes for a chamber, comma-separated: 46,82")
def create_user(role: str, email: str, password: str, name: str, territory: str) -> None:
    """Create an account of any role."""
    departments = [code.strip().upper() for code in territory.split(",") if code.strip()]
    if role == "chamber" and not departments:
        raise click.UsageError("A chamber needs --territory (department codes, e.g. 46,82).")
    try:
        user = accounts.create_user(email=email, password=password, role=role, name=name, territory=departments)
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} {exc.errors or ''}".strip()) from None
    click.echo(f"Created {user.role} #{user.id} {user.email}" + (f" for {','.join(departments)}" if departments else ""))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--with-scheduler", is_flag=True, help="Also run the scheduled jobs in this process (one process only).")
@with_appcontext
def serve(host: str, port: int, with_scheduler: bool) -> None:
    """Serve the site, the API and the live feed (development and `make run`; production uses gunicorn)."""
    from flask import current_app

    from exchange.extensions import socketio

    app = current_app._get_current_object()
    if with_scheduler:
        from exchange import jobs

        jobs.build(app).start()
    click.echo(f"Carreau on http://{host}:{port}  (API docs: http://{host}:{port}/api/v1/docs)")
    # Flask ignores app.run() under its CLI unless told this is the intended server.
    os.environ["FLASK_RUN_FROM_CLI"] = "false"
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)


@click.command("scheduler")
@with_appcontext
def scheduler() -> None:
    """Run the scheduled jobs in this process, in the foreground (exactly one such process in production)."""
    from flask import current_app

    from exchange import jobs

    click.echo("Carreau scheduler running; Ctrl-C stops it.")
    jobs.build(current_app._get_current_object(), blocking=True).start()


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has accounts.")
@with_appcontext
def seed_demo(if_empty: bool) -> None:
    """Fill the database with the demo region around Cahors (deterministic)."""
    from exchange.demo import seed

    if seed.is_seeded():
        if if_empty:
            click.echo("Database already has data: demo not seeded again.")
            return
        raise click.ClickException("The database is not empty; seed-demo only fills an empty one.")
    created = seed.seed()
    click.echo(f"Demo: {created['farms']} farms, {created['traders']} traders, {created['lots']} lots on offer.")
    past = created["history"]
    click.echo(f"History: {past['lots']} past lots, {past['reservations']} reservations "
               f"({', '.join(f'{n} {status}' for status, n in past['by_status'].items())}).")
    click.echo(f"Demo logins (password {created['password']!r}):")
    for role, email in created["logins"].items():
        click.echo(f"  {role:9} {email}")


@click.command("check-integrity")
@with_appcontext
def check_integrity() -> None:
    """Check every lot's stock against its reservations and movements, and the report rollup against the
    reservations; exit 1 when anything is off."""
    from exchange.domain.integrity import lot_balances
    from exchange.reports import rollup

    balances = lot_balances()
    offenders = [balance for balance in balances if balance.problems]
    for balance in offenders:
        click.echo(f"lot {balance.lot_id}: " + "; ".join(balance.problems), err=True)
    rollup_problems = rollup.differences()
    for problem in rollup_problems:
        click.echo(problem, err=True)
    if offenders or rollup_problems:
        found = [f"{len(offenders)} of {len(balances)} lots do not add up"] if offenders else []
        if rollup_problems:
            found.append("the report rollup differs from the reservations")
        raise click.ClickException("; ".join(found) + ".")
    click.echo(f"{len(balances)} lots checked: stock, reservations and movements agree, "
               "and so does the report rollup.")


def register(app: Flask) -> None:
    for command in (users, serve, scheduler, seed_demo, check_integrity):
        app.cli.add_command(command)
