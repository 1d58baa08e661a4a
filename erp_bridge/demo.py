"""Demo data of the bridge: ERP clients, the simulator's feed, and a replayed 1C exchange."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Customer

from . import files, services, simulator
from .models import ErpClient, hash_secret

log = logging.getLogger(__name__)

SAMPLE_DATA = Path(__file__).parent / "sample_data"
SIMULATOR_PATH = "/erp-simulator"
# Demo only: fixed secrets so that the welcome text can tell how to try the exchange.
DEMO_1C = ("1c-demo", "demo-1c-exchange")
DEMO_PUSH = ("erp-demo", "demo-erp-push")
SIM_CLIENT = ("portal", "simulator-secret")
DEMO_VOLUME = simulator.Volume(customers=40, products=120, orders=60)
# The order a 1C exchange sends its files in.
EXCHANGE_FILES = ("contragents.xml", "import0_1.xml", "offers0_1.xml", "orders-1251.xml")


def mount_simulator(app: Flask) -> None:
    """Outside production the simulator's feed is served next to the portal, for the demo."""
    if app.config["PORTAL"].is_production:
        return
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    feed = simulator.feed_app(DEMO_VOLUME, *SIM_CLIENT)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {SIMULATOR_PATH: feed})  # type: ignore[method-assign]


def load_demo(session: Session, rng: Any) -> None:
    for (login, secret), name, system, encoding in (
        (DEMO_1C, "1С:Управление торговлей 11 (демо)", "1c", "windows-1251"),
        (DEMO_PUSH, "ERP-система филиала (демо)", "baan", "utf-8"),
    ):
        if session.scalar(select(ErpClient).where(ErpClient.login == login)) is None:
            session.add(
                ErpClient(
                    name=name,
                    system=system,
                    login=login,
                    secret_hash=hash_secret(secret),
                    scopes=" ".join(services.known_scopes()),
                    encoding=encoding,
                )
            )
    origin = current_app.config["PORTAL"].origin
    services.add_pull_source(
        session,
        name="Симулятор ERP",
        system="sim",
        base_url=f"{origin}{SIMULATOR_PATH}",
        token_url=f"{origin}{SIMULATOR_PATH}/oauth/token",
        client_id=SIM_CLIENT[0],
        client_secret=SIM_CLIENT[1],
        streams=list(simulator.STREAMS),
        secret_key=current_app.config["PORTAL"].secret_key,
    )
    session.commit()
    engine = current_app.extensions["db_engine"]
    folder = Path(current_app.config["PORTAL"].instance_dir) / "erp_demo"
    folder.mkdir(parents=True, exist_ok=True)
    # 1C knows the CRM's customers under its own ids: bind them (by INN), create none.
    paths = [_counterparties_of_crm(session, folder / "contragents.xml")]
    paths += [SAMPLE_DATA / name for name in EXCHANGE_FILES[1:]]
    for path in paths:
        run = files.import_file(session, engine, path, system="1c", source="commerceml")
        log.info("demo: %s imported: %s", path.name, run.status)


def _counterparties_of_crm(session: Session, path: Path) -> Path:
    customers = session.scalars(
        select(Customer).where(Customer.inn.is_not(None)).order_by(Customer.id)
    ).all()
    volume = simulator.Volume(customers=len(customers))
    overrides = {
        i: {
            "name": c.name,
            "inn": c.inn,
            "number": c.number,
            "email": c.email,
            "phone": c.phone,
            "address": c.address,
        }
        for i, c in enumerate(customers)
    }
    return simulator.write_customers(path, volume, overrides=overrides)


def welcome(session: Session) -> list[str]:
    origin = current_app.config["PORTAL"].origin
    return [
        f"1C exchange: {origin}/exchange/1c  (login {DEMO_1C[0]}, password {DEMO_1C[1]})",
        f"ERP push API: {origin}/api/erp/v1/openapi.json  (client {DEMO_PUSH[0]}, "
        f"secret {DEMO_PUSH[1]})",
        f"ERP simulator feed: {origin}{SIMULATOR_PATH}/customers  (pulled by `portal erp pull`)",
    ]
