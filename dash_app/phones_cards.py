"""What the Phones page shows: each device with its live state, and how to set one up.

Live state comes from Kamailio (``kamailio.devices``: each registration named
by the credential that made it); what is kept (last seen, its user agent and
address) from the store, so an offline phone still says when it was last
online. Provisioning details are what a person types into a phone, plus a QR
code (SVG made here, no network) a softphone can scan.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
from dash import dcc, html

from switchboard.settings import Settings
from switchboard.store.devices import Device


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code in an SVG data URI."""
    import qrcode  # lazy: only a new device's card needs it
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def provisioning_lines(settings: Settings, device: Device) -> list[tuple[str, str]]:
    """(label, value) a phone is set up with; TLS is listed as Kamailio always listens on it."""
    return [
        ("Server", settings.sip_host),
        ("Port", f"{settings.sip_port} (UDP or TCP), {settings.sip_tls_port} (TLS)"),
        ("User (AoR)", device.extension),
        ("Authentication user", device.username),
        ("Domain / realm", device.tenant_domain),
    ]


def provisioning_text(settings: Settings, device: Device, password: str) -> str:
    """What the QR code holds: a SIP URI with the server and the device's credential."""
    return (
        f"sip:{device.extension}@{device.tenant_domain}"
        f";proxy={settings.sip_host}:{settings.sip_port}"
        f";auth={device.username};password={password}"
    )


def new_device_card(settings: Settings, device: Device, password: str) -> Any:
    """The credential of a device just added, shown this once, with details and QR code."""
    rows = [
        *provisioning_lines(settings, device),
        ("Password", password),
    ]
    table = dmc.Table(
        dmc.TableTbody(
            [
                dmc.TableTr(
                    [
                        dmc.TableTd(label, fw=600),
                        dmc.TableTd(
                            dmc.Group(
                                [dmc.Code(value), dcc.Clipboard(content=value)],
                                gap="xs",
                            )
                        ),
                    ]
                )
                for label, value in rows
            ]
        ),
        id="phones-new-details",
    )
    return dmc.Alert(
        [
            dmc.Text(
                "Copy the password now: it is shown once and cannot be read again.",
                size="sm",
                mb="sm",
            ),
            dmc.Group(
                [
                    table,
                    html.Img(
                        src=qr_data_uri(provisioning_text(settings, device, password)),
                        alt="QR code with the device's SIP settings",
                        id="phones-new-qr",
                        style={"width": 180, "height": 180},
                    ),
                ],
                align="flex-start",
            ),
        ],
        title=f"Device {device.name} added to {device.extension}",
        color="green",
        variant="light",
        id="phones-new-device",
    )


def _when(at: float | None, zone: str, *, seconds: bool = False) -> str:
    if not at:
        return "never"
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(zone)).strftime(shape)


def device_rows(
    devices: list[Device], live: dict[str, list[Any]] | None, zone: str, *, can_revoke: bool
) -> Any:
    """One row per device: registered or offline (``live`` None: Kamailio unreachable)."""
    if not devices:
        return dmc.Text("No devices yet.", size="sm", c="dimmed", id="phones-none")
    body = []
    for d in devices:
        regs = None if live is None else live.get(d.username, [])
        if regs is None:
            state = dmc.Badge("unknown", color="gray", variant="light")
            detail = (d.last_user_agent, d.last_address, "")
        elif regs:
            state = dmc.Badge("registered", color="green", variant="light")
            r = regs[0]
            # When it last registered, not a countdown: the table re-renders only when
            # something changed, so a click on Revoke is never lost to a re-render.
            since = "permanent" if r.expires_in < 0 else _when(r.last_modified, zone, seconds=True)
            detail = (r.user_agent, r.address, since)
        else:
            state = dmc.Badge("offline", color="gray", variant="light")
            detail = (d.last_user_agent, d.last_address, "")
        revoke = (
            dmc.Button(
                "Revoke",
                id={"type": "phones-revoke", "username": d.username},
                color="red",
                variant="subtle",
                size="xs",
            )
            if can_revoke
            else None
        )
        body.append(
            dmc.TableTr(
                [
                    dmc.TableTd(d.extension),
                    dmc.TableTd(d.name),
                    dmc.TableTd(dmc.Code(d.username)),
                    dmc.TableTd(state),
                    dmc.TableTd(detail[0] or "—"),
                    dmc.TableTd(detail[1] or "—"),
                    dmc.TableTd(detail[2] or "—"),
                    dmc.TableTd(_when(d.last_seen_at, zone)),
                    dmc.TableTd(revoke),
                ],
                id=f"phones-row-{d.username}",
                className="sb-phone-row",
            )
        )
    head = dmc.TableThead(
        dmc.TableTr(
            [
                dmc.TableTh(h)
                for h in (
                    "Ext.",
                    "Device",
                    "SIP user",
                    "State",
                    "User agent",
                    "Address",
                    "Registered",
                    "Last seen",
                    "",
                )
            ]
        )
    )
    return dmc.Table([head, dmc.TableTbody(body)], id="phones-table", highlightOnHover=True)
