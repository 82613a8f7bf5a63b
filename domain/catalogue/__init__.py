"""Service definitions: one YAML file per service type under ``<knowledge>/services/``.

Content managers edit these files, so every mistake is reported with its file and
line, and a broken edit never takes the service desk down: the catalogue keeps
serving the last set that validated and reloads when a file changes.
``calendar.yaml`` in the same folder is the desk's own closures and working days over the
public calendar (``domain.workdays``), not a service.

model.py says what a service is, files.py reads and checks the files, and
``ServiceCatalog`` here is the set in force.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from domain.catalogue.files import ServiceError, load_calendar, load_services, validate_services
from domain.catalogue.model import (
    CALENDAR_FILE,
    FILE_KINDS,
    FORMATS,
    KINDS,
    LANGS,
    MASKS,
    Material,
    Service,
    ServiceSet,
    cn_id_checksum_ok,
)
from domain.workdays import Calendar
from knowledge.schema import Problem

__all__ = ["CALENDAR_FILE", "FILE_KINDS", "FORMATS", "KINDS", "LANGS", "MASKS", "Calendar", "Material", "Service",
           "ServiceCatalog", "ServiceError", "ServiceSet", "cn_id_checksum_ok", "load_calendar", "load_services",
           "validate_services"]

log = logging.getLogger(__name__)


class ServiceCatalog:
    """The services in force. Reloads when a file changes; a broken edit keeps the last good set."""

    def __init__(self, directory: Path, max_upload_mb: float | None = None) -> None:
        self.directory = directory
        self.max_upload_mb = max_upload_mb
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._current = ServiceSet()
        #: Problems of the last load that failed, for the console and health checks.
        self.problems: list[Problem] = []

    def _stat(self) -> tuple[tuple[str, int, int], ...]:
        if not self.directory.is_dir():
            return ()
        found = []
        for path in sorted(self.directory.glob("*.y*ml")):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            found.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(found)

    def current(self) -> ServiceSet:
        """The set in force, reloaded first if any file changed since the last look."""
        signature = self._stat()
        if signature != self._signature:
            with self._lock:
                if signature != self._signature:
                    self._reload(signature)
        return self._current

    def _reload(self, signature: tuple[tuple[str, int, int], ...]) -> None:
        try:
            fresh = load_services(self.directory, self.max_upload_mb)
        except ServiceError as exc:
            self.problems = exc.problems
            log.error("service definitions not reloaded (%d problems); keeping the last good set:\n%s",
                      len(exc.problems), exc)
        else:
            self.problems = []
            self._current = fresh
            log.info("service definitions loaded: %d services", len(fresh.services))
        self._signature = signature

    def services(self) -> dict[str, Service]:
        return self.current().services

    def get(self, service_id: str) -> Service | None:
        return self.current().services.get(service_id)

    @property
    def calendar(self) -> Calendar:
        return self.current().calendar
