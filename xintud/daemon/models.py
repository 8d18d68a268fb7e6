"""The models in the daemon: loaded when the first photo comes, dropped again when it is idle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from xintud.engine.classify import Classifier
from xintud.engine.learned import Learned
from xintud.engine.models.manifest import ModelError, models_dir, read_manifest
from xintud.engine.models.memory import release_model_memory, use_one_malloc_arena
from xintud.engine.models.providers import resolve_providers, short_name
from xintud.engine.models.store import load_models

logger = logging.getLogger("xintud")


class ModelHolder:
    """Loads the models on first use and drops them after an idle time (memory back to the OS)."""

    def __init__(self, threads: int, batch_size: int, providers: Sequence[str] = ()) -> None:
        """Refuses (ModelError) providers the installed onnxruntime does not offer."""
        check_providers(providers)
        self.threads = threads
        self.batch_size = batch_size
        self.providers = tuple(providers)
        self._classifier: Classifier | None = None
        self.learned: Learned | None = None  # what the user taught, applied from the next photo
        self.last_used = time.monotonic()
        use_one_malloc_arena()  # before any worker thread: what unload frees stays returnable

    def get(self) -> Classifier:
        """The classifier, loading the models if they are not loaded."""
        if self._classifier is None:
            started = time.monotonic()
            models = load_models(self.threads, providers=self.providers)
            self._classifier = Classifier(models, batch_size=self.batch_size,
                                          learned=self.learned)
            logger.info("models loaded in %.1f s (on %s)", time.monotonic() - started,
                        ", ".join(short_name(p) for p in models.providers))
        self.last_used = time.monotonic()
        return self._classifier

    def use_learned(self, learned: Learned | None) -> None:
        """Answer with this version of what the user taught (None: the shipped models)."""
        self.learned = learned
        if self._classifier is not None:
            self._classifier.use_learned(learned)

    @property
    def loaded(self) -> bool:
        """True while the models are in memory."""
        return self._classifier is not None

    def unload_if_idle(self, idle_seconds: float, busy: threading.Lock) -> None:
        """Drop the models when unused this long (0: never) — not while `busy` is held (a
        command such as `correct` or `refile` may be using them)."""
        if not idle_seconds or not self.loaded or \
                time.monotonic() - self.last_used < idle_seconds:
            return
        if busy.acquire(blocking=False):
            try:
                self.unload()
            finally:
                busy.release()

    def unload(self, why: str | None = "after being idle") -> None:
        """Drop the models and give their memory back; the next get() loads them again.

        `why` goes into the log line ("unloaded after being idle"); None logs nothing (at stop).
        """
        if self._classifier is not None:
            self._classifier.close()
            self._classifier = None
            release_model_memory()
            if why is not None:
                logger.info("models unloaded %s; they load again when a photo arrives", why)


def model_version() -> str:
    """The shipped models' version, read from the manifest without loading anything."""
    try:
        return read_manifest(models_dir()).version
    except ModelError:
        return "unknown (manifest unreadable)"


def check_providers(providers: Sequence[str]) -> None:
    """Refuse, at start, execution providers the installed onnxruntime does not offer
    (ModelError naming those it does); the CPU alone needs no check and loads nothing."""
    resolve_providers(providers)


def providers_usable(providers: Sequence[str]) -> bool:
    """check_providers for a config reload: False, with the reason logged, keeps the old."""
    try:
        check_providers(providers)
    except ModelError as exc:
        logger.error("config not reloaded, the old one stays in use: %s", exc)
        return False
    return True
