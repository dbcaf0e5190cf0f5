"""The certificate Kamailio serves SIP over TLS with: the operator's, or a self-signed one.

With ``sip_tls_cert`` / ``sip_tls_key`` set, those files are used as they are
(and must exist). Left empty, a self-signed certificate for ``sip_host`` is
made once under ``<data_dir>/tls/`` with the ``openssl`` command line (the
key readable by its owner only) and kept: phones that pinned it keep working
across restarts. Good for a lab and for tests; a real deployment sets its
own certificate.

Errors: ``TlsCertificateError`` (a configured file is missing, or openssl failed).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

from switchboard.settings import Settings

CERT_DAYS = 3650


class TlsCertificateError(RuntimeError):
    """The TLS certificate or key is missing and could not be made."""


def tls_paths(settings: Settings) -> tuple[Path, Path]:
    """(certificate, private key) paths Kamailio is given."""
    tls_dir = settings.data_dir / "tls"
    cert = Path(settings.sip_tls_cert) if settings.sip_tls_cert else tls_dir / "kamailio-cert.pem"
    key = Path(settings.sip_tls_key) if settings.sip_tls_key else tls_dir / "kamailio-key.pem"
    return cert.resolve(), key.resolve()


def ensure_certificate(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key, made self-signed for ``sip_host`` when none is configured."""
    cert, key = tls_paths(settings)
    if cert.is_file() and key.is_file():
        return cert, key
    if settings.sip_tls_cert or settings.sip_tls_key:
        raise TlsCertificateError(f"TLS certificate {cert} or key {key} missing")
    cert.parent.mkdir(parents=True, exist_ok=True)
    host = settings.sip_host
    try:
        ipaddress.ip_address(host)
        san = f"IP:{host}"
    except ValueError:
        san = f"DNS:{host}"
    # the key is created owner-only: openssl honours the umask
    old_umask = os.umask(0o077)
    try:
        result = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-days", str(CERT_DAYS), "-subj", f"/CN={host}/O=Switchboard",
             "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise TlsCertificateError("openssl not found: cannot make a TLS certificate") from exc
    finally:
        os.umask(old_umask)
    if result.returncode != 0:
        raise TlsCertificateError(f"openssl failed: {result.stderr.strip()[-500:]}")
    return cert, key
