"""The media server: a SIP UAS on ``media_host:media_port`` that answers what needs media.

It trusts only Kamailio (``switchboard.sip_trust``): datagrams from any other
address are dropped unanswered, and a new call must carry the identity
Kamailio asserted after digest auth (``X-SB-Asserted`` with the shared
secret), else 403. Nothing is taken from ``From`` but the caller's number and
name written beside a message.

Dispatch is by Request-URI user (DESIGN, "The call path"):

- ``vm-<tenant>-<ext>`` (``switchboard.routing.voicemail_target``): leave a
  message in ``ext``'s mailbox (Kamailio sends these, record-routed; a
  ``Diversion`` with ``reason=user-busy`` picks the busy greeting);
- ``*97`` or ``vmaccess-<tenant>``: the asserted user's own mailbox by phone
  (never the From user's), always behind a PIN;
- ``aa-<tenant>-<id>`` / ``ann-<tenant>-<id>`` (``switchboard.attendants``): an
  auto attendant menu or an announcement (``media.attendant``), which may
  bridge the caller to an extension or a number;
- ``q-<tenant>-<id>``: a call queue (``media.queue``); ``fc-<tenant>-<code>``:
  an agent's feature code, ``*45``…``*48`` (``media.feature_codes``).

Anything else gets 404. Each call runs as one asyncio task; all playback is
paced by one shared clock. Library bugs are fixed in ``media.workarounds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiortp import RTPSession
from aiosipua import IncomingCall, SipRequest, SipResponse, parse_uri

from media import prompts
from media.attendant import Menus, StoreMenus, attendant_application
from media.feature_codes import FEATURE_PREFIX, feature_code_application
from media.leg import Leg, MediaClock
from media.mailbox import Mailboxes, StoreMailboxes, mailbox_menu
from media.outbound import Dialer, answer_reinvite
from media.queue import QUEUE_PREFIX, QueueEngine, kamailio_busy_probe, queue_application
from media.voicemail import MessageMeta, SpoolError, VoicemailSpool, leave_message, new_message_id
from media.workarounds import (
    CODECS,
    G711,
    HD_VOICE,
    MediaCall,
    MediaUAC,
    MediaUAS,
    UdpTransport,
    codec_for,
    fix_g722_session,
    negotiate_answer,
    payload_type_of,
)
from switchboard.attendants import ANNOUNCEMENT_PREFIX, ATTENDANT_PREFIX
from switchboard.routing import parse_voicemail_target
from switchboard.settings import Settings
from switchboard.sip_trust import (
    ASSERTED_HEADER,
    TRUNK_IDENTITY,
    asserted_identity,
    media_secret,
)

log = logging.getLogger(__name__)

_ACCESS_RE = re.compile(r"^vmaccess-(?P<tenant>.+)$")

# An application run for Request-URI users starting with its prefix:
# (server, the answered leg, Request-URI user, identity Kamailio asserted).
Application = Callable[["MediaServer", Leg, str, str], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """What a Request-URI asks for."""

    app: str  # "voicemail" | "access"
    tenant: str
    mailbox: str


def route_request(invite: SipRequest, identity: str) -> Route | None:
    """Decide the application from the Request-URI and the identity Kamailio asserted.

    A mailbox by phone is always the asserted user's own, in its own tenant.
    """
    try:
        user = parse_uri(invite.uri).user or ""
    except ValueError:
        return None
    if target := parse_voicemail_target(user):
        return Route("voicemail", *target)
    caller, _, caller_tenant = identity.partition("@")
    if not caller_tenant:
        return None  # the carrier has no mailbox
    if m := _ACCESS_RE.match(user):
        return Route("access", caller_tenant, caller) if m["tenant"] == caller_tenant else None
    if user == "*97":
        return Route("access", caller_tenant, caller)
    return None


def _caller(invite: SipRequest) -> tuple[str | None, str | None]:
    """(From user, From display name); None for anonymous callers."""
    addr = invite.from_addr
    if addr is None or addr.uri is None:
        return None, None
    user = addr.uri.user
    if not user or user.lower() == "anonymous":
        user = None
    return user, (addr.display_name or None)


def _is_busy_diversion(invite: SipRequest) -> bool:
    return any("user-busy" in value.lower() for value in invite.headers.get("diversion"))


class MediaServer:
    """The asyncio media server (``start`` / ``stop``; ``serve_forever`` for the CLI)."""

    def __init__(
        self,
        settings: Settings,
        *,
        mailboxes: Mailboxes | None = None,
        applications: Mapping[str, Application] | None = None,
    ) -> None:
        """Without ``mailboxes``, open the store of ``settings`` (closed again by ``stop``).

        ``applications`` maps a Request-URI user prefix to an application (checked
        before the built-in ones; the bridge's tests register one this way).
        """
        self.applications: dict[str, Application] = {
            ATTENDANT_PREFIX: attendant_application,
            ANNOUNCEMENT_PREFIX: attendant_application,
            QUEUE_PREFIX: queue_application,
            FEATURE_PREFIX: feature_code_application,
            **(applications or {}),
        }
        self.dialer: Dialer | None = None  # places the legs of bridged calls (media.bridge)
        self.settings = settings
        self._own_mailboxes: StoreMailboxes | None = None
        if mailboxes is None:
            mailboxes = self._own_mailboxes = StoreMailboxes.open(settings)
        self.mailboxes: Mailboxes = mailboxes
        # menus and announcements (media.attendant) read the mailboxes' store
        self.menus: Menus | None = (
            StoreMenus(mailboxes.store) if isinstance(mailboxes, StoreMailboxes) else None
        )
        # call queues and agents (media.queue) over the same store; built in start()
        self.queues: QueueEngine | None = None
        self.spool = VoicemailSpool(settings.spool_dir)
        self.clock = MediaClock()
        self.legs: dict[str, Leg] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._uas: MediaUAS | None = None
        self.messages: list[MessageMeta] = []  # this process's results (tests, benchmark)
        # Kamailio sends from its SIP socket; nobody else may speak to us
        self.kamailio_addr = (settings.sip_host, settings.sip_port)
        self._secret = media_secret(settings)
        self.dropped = 0  # datagrams from anyone else (tests, monitoring)

    @property
    def sip_calls(self) -> set[str]:
        """Call-IDs of the dialogs the SIP layer still keeps (tests, monitoring: after a
        call ends, in any way, its Call-ID must leave this set)."""
        return set(self._uas.active_calls) if self._uas is not None else set()

    async def start(self) -> None:
        """Recover cut-off recordings, make the prompts, then listen."""
        self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        recovered = self.spool.recover_parts()
        if recovered:
            log.warning("recovered %d cut-off message(s)", len(recovered))
        await asyncio.to_thread(prompts.ensure_prompts, self.settings.data_dir)
        host, port = self.settings.media_host, self.settings.media_port
        transport = UdpTransport(local_addr=(host, port))
        self._uas = MediaUAS(
            transport, user_agent="Switchboard media", advertised_addr=(host, port)
        )
        self._uas.on_call = self._on_call
        self._uas.on_bye = self._on_bye
        self._uas.on_cancel = self._on_cancel
        self._uas.on_ack_timeout = self._on_ack_timeout
        self._uas.on_reinvite = self._on_reinvite
        # one SIP socket for both roles: the UAS hands responses to this UAC
        self._uas.uac = uac = MediaUAC(transport, advertised_addr=(host, port))
        self.dialer = Dialer(
            uac,
            self._uas,
            kamailio_addr=self.kamailio_addr,
            media_host=host,
            secret=self._secret,
            rtp_timeout=self.settings.rtp_timeout_seconds,
        )
        handler = self._uas._on_message

        def only_from_kamailio(msg: SipRequest | SipResponse, addr: tuple[str, int]) -> None:
            if tuple(addr) != self.kamailio_addr:
                # debug only: a flood of spoofed datagrams must not flood the log too
                self.dropped += 1
                log.debug("SIP from %s:%d dropped: only Kamailio may speak to us", *addr)
                return
            handler(msg, addr)

        # before start(): it hands this method to the transport, so no datagram skips the check
        self._uas._on_message = only_from_kamailio  # type: ignore[method-assign]
        await self._uas.start()
        self.clock.start()
        if isinstance(self.mailboxes, StoreMailboxes):
            busy = kamailio_busy_probe(self.settings.rpc_url)
            self.queues = QueueEngine(self, self.mailboxes.store, busy)
            self.queues.restore()  # agent state from the store, a restart event per queue
        log.info("media server listening on %s:%d (UDP)", host, port)

    async def stop(self) -> None:
        """Hang up every leg (recordings are kept as cut off), then close."""
        for leg in list(self.legs.values()):
            leg.finish("shutdown", send_bye=True)
        for outbound in list(self.dialer.legs.values()) if self.dialer else []:
            outbound.hangup("shutdown")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self.queues is not None:
            await self.queues.stop()  # the last queue events go to the spool
        await self.clock.stop()
        if self._uas is not None:
            await self._uas.stop()
        if self._own_mailboxes is not None:
            self._own_mailboxes.close()

    async def serve_forever(self) -> None:
        """Run until SIGTERM/SIGINT."""
        await self.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stopping.set)
        try:
            await stopping.wait()
        finally:
            await self.stop()

    # --- SIP callbacks ------------------------------------------------------------------------

    def _on_call(self, call: IncomingCall) -> None:
        # MediaUAS makes every incoming call a MediaCall (media.workarounds.sip)
        assert isinstance(call, MediaCall)
        task = asyncio.get_running_loop().create_task(self._run_call(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_bye(self, call: object, request: SipRequest) -> None:
        if self.dialer is not None and self.dialer.on_bye(request.call_id or ""):
            return
        leg = self.legs.get(request.call_id or "")
        if leg is not None:
            leg.remote_hangup()

    def _on_cancel(self, request: SipRequest, addr: tuple[str, int]) -> None:
        leg = self.legs.get(request.call_id or "")
        if leg is not None:
            leg.remote_hangup()

    def _on_reinvite(self, call: IncomingCall) -> None:
        """A bridge answers its legs' re-INVITEs; any other leg keeps its media as it is."""
        assert isinstance(call, MediaCall)  # as in _on_call
        if self.dialer is not None and self.dialer.on_reinvite(call):
            return
        leg = self.legs.get(call.call_id)
        if leg is None:
            call.reject(481, "Call/Transaction Does Not Exist")
            return
        transport = leg.session._rtp_transport
        assert transport is not None and transport._transport is not None
        _, address, _ = answer_reinvite(
            call,
            host=self.settings.media_host,
            port=transport._transport.get_extra_info("sockname")[1],
            payload_types=[payload_type_of(leg.codec_name)],
        )
        if address is not None:
            leg.session.update_remote(address)

    def _on_ack_timeout(self, call: object) -> None:
        leg = self.legs.get(getattr(call, "call_id", ""))
        if leg is not None:
            leg.finish("hangup", send_bye=False)

    # --- one call -----------------------------------------------------------------------------

    async def _run_call(self, call: MediaCall) -> None:
        identity = asserted_identity(call.invite.headers.get(ASSERTED_HEADER.lower()), self._secret)
        if identity is None:
            log.warning("%s: INVITE without Kamailio's assertion refused", call.call_id)
            call.reject(403, "Forbidden")
            return
        app = self._application(call.invite)
        if app is not None:
            await self._run_application(call, app, identity)
            return
        route = route_request(call.invite, identity)
        if route is None:
            call.reject(404, "Not Found")
            return
        if call.sdp_offer is None or call.sdp_offer.rtp_address is None:
            call.reject(488, "Not Acceptable Here")
            return
        try:
            self.spool.mailbox_dir(route.tenant, route.mailbox)
        except SpoolError:
            call.reject(404, "Not Found")
            return
        # A deposit takes G.722 from a phone that offers it (a 16 kHz message: its
        # transcript is ~3x more accurate than through G.711, docs/voicemail.md); listening
        # to a mailbox stays G.711, as every other application does.
        codecs = HD_VOICE if route.app == "voicemail" else G711
        await self._serve(call, lambda leg: self._mailbox_application(leg, route, identity), codecs)

    async def _mailbox_application(self, leg: Leg, route: Route, identity: str) -> None:
        """Leave a message (``vm-``) or listen to one's own mailbox."""
        if route.app == "voicemail":
            # ends the leg itself, with the message's reason
            await self._voicemail(leg, route, from_carrier=identity == TRUNK_IDENTITY)
        else:
            await mailbox_menu(
                leg, self.mailboxes, route.tenant, route.mailbox, self.settings.data_dir
            )

    def _application(self, invite: SipRequest) -> Application | None:
        try:
            user = parse_uri(invite.uri).user or ""
        except ValueError:
            return None
        for prefix, app in self.applications.items():
            if user.startswith(prefix):
                return app
        return None

    async def _run_application(self, call: MediaCall, app: Application, identity: str) -> None:
        if call.sdp_offer is None or call.sdp_offer.rtp_address is None:
            call.reject(488, "Not Acceptable Here")
            return
        user = parse_uri(call.invite.uri).user or ""
        await self._serve(call, lambda leg: app(self, leg, user, identity))

    async def _serve(
        self,
        call: MediaCall,
        application: Callable[[Leg], Awaitable[None]],
        codecs: list[int] = G711,
    ) -> None:
        """Answer ``call`` (with the first of ``codecs`` it offers) and run ``application`` on
        its leg; whatever the application left open ends with a BYE ("hangup", or "error"
        when it failed) and the leg is released."""
        leg = await self._answer(call, codecs)
        if leg is None:
            return
        try:
            await application(leg)
            leg.finish("hangup", send_bye=True)  # no-op when the application ended the leg
        except Exception:
            log.exception("%s: application failed", call.call_id)
            leg.finish("error", send_bye=True)
        finally:
            self.legs.pop(call.call_id, None)
            await leg.close()

    async def _answer(self, call: MediaCall, codecs: list[int]) -> Leg | None:
        offer = call.sdp_offer
        assert offer is not None and offer.rtp_address is not None
        host = self.settings.media_host
        try:
            _, pt, dtmf_pt = negotiate_answer(offer, host, 0, codecs)
        except Exception:
            call.reject(488, "Not Acceptable Here")
            return None
        codec = codec_for(pt)
        session = await RTPSession.create(
            local_addr=(host, 0),
            remote_addr=offer.rtp_address,
            payload_type=pt,
            codec=codec,
            dtmf_payload_type=dtmf_pt if dtmf_pt is not None else -1,
            skip_audio_gaps=True,
            symmetric_rtp=True,
        )
        fix_g722_session(session)
        assert session._rtp_transport is not None and session._rtp_transport._transport is not None
        rtp_port = session._rtp_transport._transport.get_extra_info("sockname")[1]
        answer, _, _ = negotiate_answer(offer, host, rtp_port, codecs)
        if call.dialog.state.value == "terminated":  # cancelled while we set up
            await session.close()
            return None
        call.accept(answer)
        leg = Leg(
            call=call,
            session=session,
            clock=self.clock,
            codec_name=CODECS[pt][0],
            dtmf_payload_type=dtmf_pt,
            rtp_timeout=self.settings.rtp_timeout_seconds,
            rate=codec.sample_rate,
        )
        self.legs[call.call_id] = leg
        leg.start()
        return leg

    async def _voicemail(self, leg: Leg, route: Route, *, from_carrier: bool) -> None:
        caller, caller_name = _caller(leg.call.invite)
        meta = MessageMeta(
            message_id=new_message_id(),
            tenant=route.tenant,
            mailbox=route.mailbox,
            call_id=leg.call_id,
            caller=caller,
            caller_name=caller_name,
            codec=leg.codec_name,
            from_carrier=from_carrier,
        )
        box = self.mailboxes.settings(route.tenant, route.mailbox)
        result = await leave_message(
            leg,
            self.spool,
            meta,
            box,
            self.settings.data_dir,
            max_seconds=self.settings.voicemail_max_seconds,
            busy=_is_busy_diversion(leg.call.invite) or box.greeting == "busy",
        )
        self.messages.append(result)


def run_media_server(settings: Settings, *, mailboxes: Mailboxes | None = None) -> int:
    """Run the media server in the foreground until SIGTERM/SIGINT (``switchboard media``)."""
    asyncio.run(MediaServer(settings, mailboxes=mailboxes).serve_forever())
    return 0
