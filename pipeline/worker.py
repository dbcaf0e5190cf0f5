"""The pipeline worker: every ``settings.ingest_interval``, ingest accounting rows,
then alert managers of calls that went on unrecorded (:mod:`pipeline.recording_alerts`),
then call steps (:mod:`pipeline.steps_ingest`), then queue and agent events
(:mod:`pipeline.queue_ingest`), then voicemail (spool → lake →
transcript → email), then call recordings (:mod:`pipeline.recording_steps`); every
``settings.compaction_interval``, merge the lake's small files
(:mod:`pipeline.compaction`) and remove recordings past their tenant's
retention (:mod:`pipeline.lake_deletion`) and copy the audit trail's closed
days into the lake (:mod:`pipeline.access_log_export`); every
``settings.acc_cleanup_interval``, remove the accounting rows the lake holds from Kamailio's spool
(:mod:`pipeline.acc_cleanup`); scheduled reports that came due are run every
``SCHEDULE_CHECK_SECONDS``.

``switchboard worker`` calls ``run_worker``; ``python -m pipeline.worker``
does the same with settings from the environment. A failing pass is logged
and retried on the next tick: the lake protocol makes every retry safe.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kamailio.devices import PRESENCE_EVERY_SECONDS, record_presence
from pipeline.acc_cleanup import clean_acc_spool
from pipeline.access_log_export import export_access_log
from pipeline.compaction import compact_due
from pipeline.ingest import ingest_once
from pipeline.lake import Lake
from pipeline.lake_deletion import apply_retention
from pipeline.queue_ingest import ingest_queue_events
from pipeline.recording_alerts import MissingRecordingAlerts
from pipeline.recording_steps import RecordingSteps
from pipeline.steps_ingest import ingest_steps
from switchboard.settings import Settings, load_settings
from switchboard.store import ProvisioningStore

if TYPE_CHECKING:
    from pipeline.transcribe import Transcriber

log = logging.getLogger(__name__)
# Cron has minute resolution; checking a few times a minute keeps reports on time.
SCHEDULE_CHECK_SECONDS = 15.0


def check_schedules(settings: Settings) -> None:
    """Run the reports that came due; never raises (a report error is recorded on its run)."""
    from pipeline.schedules import run_due  # lazy: reports load xlsxwriter, apscheduler

    try:
        store = ProvisioningStore(settings.provisioning_db)
        try:
            for outcome in run_due(settings, store):
                log.info(
                    "report %s due %s: %s rows%s",
                    outcome.schedule_id,
                    outcome.due_at.isoformat(),
                    outcome.rows,
                    f", error: {outcome.error}" if outcome.error else "",
                )
        finally:
            store.close()
    except Exception:
        log.exception("checking scheduled reports failed")


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Loop until ``stop`` is set; never dies of an ingest error."""
    removed = Lake(settings.lake_dir).remove_temp_files(everywhere=True)
    if removed:
        log.info("removed %d temporary files left by a crash", removed)
    log.info("pipeline worker started (every %.1f s)", settings.ingest_interval)
    voicemail = VoicemailSteps(settings)
    recordings = RecordingSteps(settings, voicemail.transcriber)
    alerts = MissingRecordingAlerts(settings, voicemail.store)  # pipeline.recording_alerts
    next_schedule_check = next_compaction = next_acc_cleanup = 0.0
    next_presence = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_schedule_check:  # scheduled reports (pipeline.schedules)
            check_schedules(settings)
            next_schedule_check = time.monotonic() + SCHEDULE_CHECK_SECONDS
        missing = 0
        try:
            result = ingest_once(settings)
            missing = result.missing_recordings
            if result.calls or result.quarantined:
                log.info(
                    "ingest: %d calls, %d quarantined, %d recordings missing, watermark %d",
                    result.calls,
                    result.quarantined,
                    result.missing_recordings,
                    result.watermark,
                )
        except Exception:
            log.exception("ingest pass failed; retrying in %.1f s", settings.ingest_interval)
        try:  # calls that went on unrecorded (rtpengine down): email the managers
            alerts.run(missing)
        except Exception:
            log.exception("recordings-missing alert failed; retrying next tick")
        try:  # the steps of calls the media server handled (pipeline.steps_ingest)
            ingest_steps(settings)
        except Exception:
            log.exception("call-step ingest failed; retrying in %.1f s", settings.ingest_interval)
        try:  # queue and agent events (pipeline.queue_ingest)
            ingest_queue_events(settings)
        except Exception:
            log.exception("queue-event ingest failed; retrying in %.1f s", settings.ingest_interval)
        voicemail.run()  # after the calls: a slow transcription never delays a call row
        recordings.run()  # rtpengine captures → WAV + lake row → transcript
        if time.monotonic() >= next_compaction:
            try:
                compact_due(settings)
            except Exception:
                log.exception("compaction failed; retrying in %.0f s", settings.compaction_interval)
            try:  # recordings older than their tenant keeps them (counted, audited)
                apply_retention(settings, voicemail.store)
            except Exception:
                log.exception("recording retention failed; retrying next time")
            try:  # the audit trail's closed days into the lake (access_log)
                export_access_log(settings, voicemail.store)
            except Exception:
                log.exception("audit trail export failed; retrying next time")
            next_compaction = time.monotonic() + settings.compaction_interval
        if time.monotonic() >= next_acc_cleanup:  # after an ingest: the watermark is fresh
            try:
                clean_acc_spool(settings)
            except Exception:
                log.exception("accounting spool cleanup failed; retrying next time")
            next_acc_cleanup = time.monotonic() + settings.acc_cleanup_interval
        if time.monotonic() >= next_presence:  # devices' last seen (kamailio.devices)
            try:
                record_presence(settings, voicemail.store)
            except Exception:
                log.exception("device presence failed; retrying next time")
            next_presence = time.monotonic() + PRESENCE_EVERY_SECONDS
        stop.wait(settings.ingest_interval)
    voicemail.close()
    log.info("pipeline worker stopped")


PURGE_EVERY_SECONDS = 600.0


class VoicemailSteps:
    """Voicemail ingest → transcription → email → trash purge, once per tick.

    Each step is tried on its own: a broken SMTP server or a failing model never
    stops messages from reaching the lake and the portal. The Whisper model is
    loaded on first need and kept for the worker's life (loading costs ~1 s).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: ProvisioningStore | None = None
        self._transcriber: Transcriber | None = None
        self._transcriber_failed = False
        self._last_purge = 0.0

    @property
    def store(self) -> ProvisioningStore:
        if self._store is None:
            self._store = ProvisioningStore(self.settings.provisioning_db)
        return self._store

    @property
    def transcription_on(self) -> bool:
        return self.settings.transcription_model.strip().lower() not in ("", "none", "off")

    def transcriber(self) -> Transcriber | None:
        if self._transcriber is None and self.transcription_on and not self._transcriber_failed:
            from pipeline.transcribe import load_transcriber

            try:
                self._transcriber = load_transcriber(self.settings)
            except Exception:
                # Logged once; messages stay listed without transcripts, emails go after the wait.
                self._transcriber_failed = True
                log.exception("transcription model could not be loaded; transcription is off")
        return self._transcriber

    def _step(self, name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:
            log.exception("voicemail %s step failed; retrying next tick", name)

    def run(self) -> None:
        from pipeline.notify import send_pending_emails
        from pipeline.transcribe import transcribe_pending
        from pipeline.voicemail_ingest import ingest_voicemail, remove_audio

        self._step("ingest", lambda: ingest_voicemail(self.settings, self.store))

        def transcribe() -> None:
            if not self.store.messages_to_transcribe(1):
                return  # no model in memory until there is something to transcribe
            engine = self.transcriber()
            if engine is not None:
                transcribe_pending(self.settings, self.store, engine)

        self._step("transcription", transcribe)
        self._step(
            "email",
            lambda: send_pending_emails(
                self.settings,
                self.store,
                transcription_on=self.transcription_on and not self._transcriber_failed,
            ),
        )
        if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
            self._last_purge = time.monotonic()
            self._step(
                "purge",
                lambda: remove_audio(self.settings, self.store.purge_voicemail_trash()),
            )
            # Mailboxes of removed users, once their keep-days are over (docs/users.md).
            self._step(
                "purge",
                lambda: remove_audio(self.settings, self.store.purge_removed_mailboxes()),
            )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(load_settings(), stop)


if __name__ == "__main__":
    main()
