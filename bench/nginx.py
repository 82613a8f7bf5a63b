"""The sample nginx configuration (deploy/nginx-servicedesk.conf) run on loopback: the very file,
with its ports, certificate and upstream swapped for local ones, under a folder of its own (pid,
logs and temporary files there, nothing under /etc or /var). Used by bench/load.py and by the
`nginx -t` test."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "deploy" / "nginx-servicedesk.conf"
CERT, KEY = "/etc/ssl/servicedesk/fullchain.pem", "/etc/ssl/servicedesk/privkey.pem"

MAIN = """worker_processes 1;
pid {folder}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    include {site};
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1, made by openssl now."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _swap(text: str, old: str, new: str) -> str:
    if old not in text:
        raise SystemExit(f"{SITE.name} no longer has {old!r}: update bench/nginx.py with it")
    return text.replace(old, new)


def loopback_config(folder: Path, https_port: int, http_port: int, upstream_port: int) -> Path:
    """The main configuration file for a loopback nginx serving the deploy site."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(folder)
    site = SITE.read_text(encoding="utf-8")
    for old, new in (("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("server 127.0.0.1:8000", f"server 127.0.0.1:{upstream_port}"),
                     (CERT, str(cert)), (KEY, str(key))):
        site = _swap(site, old, new)
    (folder / "site.conf").write_text(site, encoding="utf-8")
    (folder / "tmp").mkdir(exist_ok=True)
    os.chmod(folder, 0o755)
    os.chmod(folder / "tmp", 0o777)  # nginx's workers run as nobody when started by root
    main = folder / "nginx.conf"
    main.write_text(MAIN.format(folder=folder, site=folder / "site.conf"), encoding="utf-8")
    return main


def command(main: Path, *extra: str) -> list[str]:
    binary = nginx_binary()
    if binary is None:
        raise SystemExit("nginx is not installed: apt-get install -y nginx (Debian's package)")
    return [binary, "-p", str(main.parent), "-e", str(main.parent / "error.log"), "-c", str(main), *extra]


def check(main: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on the configuration."""
    return subprocess.run(command(main, "-t"), check=False, capture_output=True, text=True)


def start(main: Path) -> subprocess.Popen:
    """nginx in the foreground (stop it with terminate())."""
    return subprocess.Popen(command(main, "-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
