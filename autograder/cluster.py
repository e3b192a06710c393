"""The certificates of a Dask cluster that only trusted machines can join (`autograder cluster-certs
DIR`).

Dask's TLS authenticates both ends of every connection (scheduler, workers, the client that runs
`autograder grade`): each presents a certificate signed by the cluster's own authority (CA) and
accepts only peers that do too. `make_certificates` makes that CA and one certificate for each role;
the CA's private key is never written, so nobody can sign another certificate later (a new trust is
a new folder). Keys are readable by their owner only.

    DIR/ca.pem                               every machine (the trust)
    DIR/scheduler.pem, scheduler-key.pem     the scheduler's machine
    DIR/worker.pem, worker-key.pem           each grading machine
    DIR/client.pem, client-key.pem           where `autograder grade --tls DIR` runs
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from distributed.security import Security

ROLES = ("scheduler", "worker", "client")
FILES = ("ca.pem", *(f"{role}{part}.pem" for role in ROLES for part in ("", "-key")))


def make_certificates(folder: Path, days: int = 365) -> list[Path]:
    """Write a new CA's certificate and a key and certificate per role into `folder` (new, or
    empty); the files written."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: certificates go into a new folder (a new "
                              "trust)")
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("autograder cluster CA")
    ca = (_builder(ca_name, ca_name, ca_key, now, days)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    written = [_write(folder / "ca.pem", ca.public_bytes(serialization.Encoding.PEM), 0o644)]
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        # Each role both listens and connects (a worker serves its peers, the scheduler calls
        # workers).
        certificate = (_builder(_name(f"autograder {role}"), ca_name, key, now, days)
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                      critical=True)
                       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                             ExtendedKeyUsageOID.CLIENT_AUTH]),
                                      critical=False)
                       .sign(ca_key, hashes.SHA256()))
        written.append(_write(folder / f"{role}.pem",
                              certificate.public_bytes(serialization.Encoding.PEM), 0o644))
        written.append(_write(folder / f"{role}-key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), 0o600))
    return written


def client_security(folder: Path) -> Security:
    """Dask's TLS settings for `autograder grade` (the client role), from a folder of
    `make_certificates`."""
    missing = [name for name in ("ca.pem", "client.pem", "client-key.pem")
               if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"--tls {folder}: no {', '.join(missing)} there (`autograder "
                                "cluster-certs DIR` makes them)")
    return Security(require_encryption=True, tls_ca_file=str(folder / "ca.pem"),
                    tls_client_cert=str(folder / "client.pem"),
                    tls_client_key=str(folder / "client-key.pem"))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey,
             now: datetime.datetime, days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # a worker whose clock is a little behind
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


def _write(path: Path, data: bytes, mode: int) -> Path:
    # Created with its mode (never readable by others, even for a moment), and never over an
    # existing file.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, mode)  # the umask may have narrowed a certificate's
    return path
