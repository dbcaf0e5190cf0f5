"""Every setting Switchboard reads, declared once.

Values come from, in order of precedence: environment variables
``SWITCHBOARD_<NAME>`` (upper case), the TOML file named by
``SWITCHBOARD_CONFIG`` (default ``./switchboard.toml``), then the defaults
below. Tests point ``SWITCHBOARD_DATA_DIR`` and the ports at a temporary
directory and free ports so that runs never collide.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "data", "Runtime data: provisioning DB, accounting spool, lake, logs."),
    Setting("sip_host", "127.0.0.1", "Address Kamailio listens on for SIP (UDP and TCP)."),
    Setting("sip_port", 5060, "Kamailio's SIP port."),
    Setting("rpc_port", 5071, "Kamailio's JSON-RPC HTTP port (always on 127.0.0.1)."),
    Setting("media_host", "127.0.0.1", "Address of the media server."),
    Setting("media_port", 5080, "SIP port of the media server (its first worker)."),
    Setting(
        "media_workers",
        1,
        "Media-server processes, on ports media_port, media_port+1, ...; Kamailio spreads calls.",
    ),
    Setting(
        "hold_music_file",
        "",
        "Default hold music (any audio ffmpeg reads); empty: a tone melody made in data_dir.",
    ),
    Setting("voicemail_uri", "", "Where calls 'to voicemail' go; empty: the media server."),
    Setting("voicemail_max_seconds", 180.0, "Longest voicemail message; recording stops there."),
    Setting(
        "voicemail_pin_max_failures",
        5,
        "Wrong voicemail PINs by phone (over any number of calls) that lock phone access ...",
    ),
    Setting(
        "voicemail_pin_window_minutes", 15.0, "... when they come within this many minutes ..."
    ),
    Setting(
        "voicemail_pin_lock_minutes",
        30.0,
        "... for this long (the owner or a manager can unlock it in the portal).",
    ),
    Setting(
        "rtp_timeout_seconds",
        10.0,
        "Media server: hang up a call whose RTP stopped this long (no BYE came).",
    ),
    Setting(
        "trunk_host", "127.0.0.1", "The carrier's SIP address: inbound DID calls come from it."
    ),
    Setting("trunk_port", 5090, "The carrier's SIP port; calls to outside numbers go there."),
    Setting("sip_tls_port", 5061, "Kamailio's SIP-over-TLS port (on sip_host)."),
    Setting("sip_tls_cert", "", "TLS certificate (PEM); empty: self-signed, made in data_dir/tls."),
    Setting("sip_tls_key", "", "TLS private key (PEM); empty: made with the certificate."),
    Setting(
        "media_secret",
        "",
        "Proves to the media server that a request comes from Kamailio; empty: generated once.",
    ),
    Setting(
        "sip_flood_window_seconds",
        2,
        "Flood limit (pike): requests from one address per window ...",
    ),
    Setting("sip_flood_max_requests", 200, "... above this many, the address is banned (silence)."),
    Setting("sip_auth_failures_max", 5, "Failed digest auths from one address before a ban ..."),
    Setting(
        "sip_auth_failure_window_seconds", 600, "... counted while failures keep coming this often."
    ),
    Setting("sip_ban_seconds", 300, "How long a flooding or password-guessing address is ignored."),
    Setting("sip_max_forwards", 10, "Max-Forwards Kamailio allows (and sets when missing)."),
    Setting(
        "sip_max_calls_per_user",
        8,
        "Calls one user's phones may have open at once; the next is refused (486).",
    ),
    Setting(
        "sip_nat_ping_interval",
        30,
        "Seconds between keepalives to phones registered from behind NAT (0: none).",
    ),
    Setting(
        "sip_scanner_user_agents",
        "friendly-scanner|sipvicious|sipcli|VaxSIPUserAgent|sundayddr|SIVuS",
        "Requests whose User-Agent matches this regex are dropped without a reply.",
    ),
    Setting("portal_host", "127.0.0.1", "Address the Dash portal listens on."),
    Setting("portal_port", 8050, "Port of the Dash portal."),
    Setting(
        "portal_front",
        True,
        "Serve the portal behind nginx (slow clients cost a socket, not a worker thread);"
        " false: gunicorn listens on portal_host:portal_port itself.",
    ),
    Setting("portal_front_bin", "/usr/sbin/nginx", "The nginx binary of the portal's front."),
    Setting("secret_key", "", "Flask session key; empty: generated once, kept in data_dir."),
    Setting("portal_workers", 2, "Portal worker processes (gunicorn) ..."),
    Setting("portal_threads", 8, "... each serving this many requests at once (threads)."),
    Setting(
        "portal_query_threads",
        1,
        "DuckDB threads per portal query (0: one per core); the requests are the parallelism.",
    ),
    Setting(
        "portal_query_slots",
        2,
        "Requests of one user that may query the lake at once, per portal worker; one more"
        " waits 0.5 s for one of them, then is told busy (dash_app/query_slots.py).",
    ),
    Setting(
        "portal_listing_seconds",
        10.0,
        "Seconds a portal worker reuses a listing of a tenant's lake files (0: list for every"
        " request): a live office's new files then rebuild pages at most this often.",
    ),
    Setting(
        "metric_cache_mb",
        256,
        "Disk the portal's workers share for metric results (data_dir/cache/metrics).",
    ),
    Setting("kamailio_bin", "/usr/sbin/kamailio", "The Kamailio binary."),
    Setting("kamailio_modules", "/usr/lib/x86_64-linux-gnu/kamailio/modules", "Module dir."),
    Setting("kamailio_children", 4, "Kamailio UDP/TCP worker processes."),
    Setting(
        "kamailio_shm_mb", 128, "Kamailio's shared memory (MB): dialogs, transactions, htable."
    ),
    Setting(
        "kamailio_pkg_mb",
        64,
        "Private memory per Kamailio process (MB); reloading 10,000 "
        "rule decisions at once fails with 16.",
    ),
    Setting(
        "relay_enabled",
        True,
        "Put rtpengine in the media path of every call (needed to record calls).",
    ),
    Setting(
        "rtpengine_bin", "/usr/bin/rtpengine", "The rtpengine binary (userspace, no kernel module)."
    ),
    Setting("rtpengine_ng_port", 2223, "rtpengine's ng control port (UDP, on 127.0.0.1)."),
    Setting("rtpengine_host", "127.0.0.1", "Address rtpengine relays RTP on (its interface)."),
    Setting("rtpengine_port_min", 30000, "Lowest RTP port rtpengine uses ..."),
    Setting("rtpengine_port_max", 39999, "... and the highest (two per call side: RTP + RTCP)."),
    Setting("rtpengine_threads", 2, "rtpengine worker threads."),
    Setting(
        "recording_redaction",
        True,
        "Mask payment-card numbers (Luhn-valid, digits or spoken) in recording transcripts.",
    ),
    Setting(
        "recording_redact_audio",
        False,
        "Also replace a card number's span of the speaker's channel in the stored WAV by a tone.",
    ),
    Setting(
        "recording_alert_minutes",
        15.0,
        "At most one 'recordings missing' email per tenant per this many minutes (to managers).",
    ),
    Setting(
        "ring_timeout",
        30,
        "Seconds a call rings when the callee has no answering rule, before it goes to voicemail.",
    ),
    Setting("ingest_interval", 1.0, "Seconds between ingest passes of the pipeline worker."),
    Setting("ingest_batch", 5000, "Most accounting rows one ingest pass turns into one file."),
    Setting(
        "acc_cleanup_interval",
        10.0,
        "Seconds between removals of lake-committed rows from Kamailio's accounting spool ...",
    ),
    Setting(
        "acc_keep_rows",
        10000,
        "... keeping this many of the newest committed rows there (for inspection); 0: none.",
    ),
    Setting("compaction_interval", 60.0, "Seconds between compaction passes of the worker."),
    Setting(
        "compaction_max_files",
        16,
        "Today's partition is merged once it holds more files than this (closed days: > 1).",
    ),
    Setting(
        "compaction_grace",
        600.0,
        "Seconds merged-away files stay on disk for readers that listed them before.",
    ),
    Setting(
        "compaction_row_group_rows",
        16384,
        "Rows per row group of a merged file (DuckDB skips row groups by their time range).",
    ),
    Setting("login_max_attempts", 5, "Failed portal logins allowed per account and address ..."),
    Setting("login_max_attempts_per_account", 50, "... per account from any address ..."),
    Setting("login_max_attempts_per_address", 20, "... per source address for any account ..."),
    Setting("login_window_seconds", 300, "... within this many seconds, then refused."),
    Setting(
        "portal_proxy_hops",
        0,
        "Reverse proxies in front of the portal whose X-Forwarded-For is trusted; 0: none.",
    ),
    Setting(
        "portal_max_request_mb",
        16,
        "Largest request body the portal reads (MB); a 10 MB greeting upload is ~14 MB.",
    ),
    Setting("portal_https", False, "The portal is served over HTTPS: session cookies are Secure."),
    Setting("demo_tenant", "acme.example", "Tenant seeded by `make run`."),
    Setting(
        "one_time_password_hours",
        72.0,
        "How long a one-time password (a reset, a new user) works before it must be used.",
    ),
    Setting(
        "removed_mailbox_keep_days",
        30.0,
        "Days the mailbox of a removed user is kept (unless reassigned) before it is purged.",
    ),
    Setting(
        "transcription_model",
        "base",
        "Voicemail transcription: 'base' or 'tiny.en' (bundled), a model folder, or 'none'.",
    ),
    Setting(
        "smtp_host",
        "",
        "SMTP server for voicemail-to-email and password resets; empty: no email is sent.",
    ),
    Setting("smtp_port", 25, "Port of the SMTP server."),
    Setting("smtp_from", "voicemail@switchboard.invalid", "From address of voicemail email."),
    Setting("smtp_max_attempts", 5, "Tries to email one voicemail before giving up on it ..."),
    Setting(
        "smtp_retry_seconds",
        300.0,
        "... waiting this long after the first failure, twice as long after each next.",
    ),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    sip_host: str
    sip_port: int
    rpc_port: int
    media_host: str
    media_port: int
    media_workers: int
    hold_music_file: str
    voicemail_uri: str
    voicemail_max_seconds: float
    voicemail_pin_max_failures: int
    voicemail_pin_window_minutes: float
    voicemail_pin_lock_minutes: float
    rtp_timeout_seconds: float
    trunk_host: str
    trunk_port: int
    sip_tls_port: int
    sip_tls_cert: str
    sip_tls_key: str
    media_secret: str
    sip_flood_window_seconds: int
    sip_flood_max_requests: int
    sip_auth_failures_max: int
    sip_auth_failure_window_seconds: int
    sip_ban_seconds: int
    sip_max_forwards: int
    sip_max_calls_per_user: int
    sip_nat_ping_interval: int
    sip_scanner_user_agents: str
    portal_host: str
    portal_port: int
    portal_front: bool
    portal_front_bin: str
    secret_key: str
    portal_workers: int
    portal_threads: int
    portal_query_threads: int
    portal_query_slots: int
    portal_listing_seconds: float
    metric_cache_mb: int
    kamailio_bin: str
    kamailio_modules: str
    kamailio_children: int
    kamailio_shm_mb: int
    kamailio_pkg_mb: int
    relay_enabled: bool
    rtpengine_bin: str
    rtpengine_ng_port: int
    rtpengine_host: str
    rtpengine_port_min: int
    rtpengine_port_max: int
    rtpengine_threads: int
    recording_redaction: bool
    recording_redact_audio: bool
    recording_alert_minutes: float
    ring_timeout: int
    ingest_interval: float
    ingest_batch: int
    acc_cleanup_interval: float
    acc_keep_rows: int
    compaction_interval: float
    compaction_max_files: int
    compaction_grace: float
    compaction_row_group_rows: int
    login_max_attempts: int
    login_max_attempts_per_account: int
    login_max_attempts_per_address: int
    login_window_seconds: int
    portal_proxy_hops: int
    portal_max_request_mb: int
    portal_https: bool
    demo_tenant: str
    one_time_password_hours: float
    removed_mailbox_keep_days: float
    transcription_model: str
    smtp_host: str
    smtp_port: int
    smtp_from: str
    smtp_max_attempts: int
    smtp_retry_seconds: float

    # Stores live at fixed places under data_dir, so one setting moves them all.
    @property
    def provisioning_db(self) -> Path:
        return self.data_dir / "switchboard.sqlite"

    @property
    def acc_db(self) -> Path:
        return self.data_dir / "kamailio-acc.sqlite"

    @property
    def lake_dir(self) -> Path:
        return self.data_dir / "lake"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def recording_spool_dir(self) -> Path:
        # rtpengine writes pcaps/ and metadata/ here (--recording-dir); the pipeline reads them
        return self.spool_dir / "recordings"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "log"

    @property
    def metric_cache_dir(self) -> Path:
        return self.data_dir / "cache" / "metrics"

    @property
    def rpc_url(self) -> str:
        # The RPC has no authentication, so Kamailio serves it on loopback only.
        return f"http://127.0.0.1:{self.rpc_port}/RPC"

    @property
    def effective_voicemail_uri(self) -> str:
        return self.voicemail_uri or f"sip:{self.media_host}:{self.media_port}"


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        return str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return str(value)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read defaults, then the TOML file, then the environment."""
    env = os.environ if environ is None else environ
    config_path = Path(env.get("SWITCHBOARD_CONFIG", "switchboard.toml"))
    file_values: dict[str, Any] = {}
    if config_path.is_file():
        with config_path.open("rb") as fh:
            file_values = tomllib.load(fh).get("switchboard", {})
    unknown = set(file_values) - {s.name for s in SETTINGS}
    if unknown:
        raise ValueError(f"{config_path}: unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(f"SWITCHBOARD_{setting.name.upper()}", file_values.get(setting.name))
        values[setting.name] = setting.default if raw is None else _coerce(raw, setting.default)
    values["data_dir"] = Path(values["data_dir"]).resolve()
    return Settings(**values)


def default(name: str) -> Any:
    """A setting's default (what ``make run`` uses without a config file)."""
    return next(s.default for s in SETTINGS if s.name == name)


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
