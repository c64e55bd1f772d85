"""Logging to a rotating file, never to the screen the console draws on."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from console.config import LoggingConfig

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(cfg: LoggingConfig) -> Path | None:
    """Send every log record to the rotating file in ``cfg``; returns its path.

    Handlers that write to a terminal are removed: under the console they would
    scribble over the screen. When the file cannot be opened (read-only disk,
    bad path) logging is switched off rather than failing the show.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.setLevel(cfg.level)
    path = Path(cfg.file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=cfg.max_bytes, backupCount=cfg.backups, encoding="utf-8"
        )
    except OSError:
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    # websockets logs every handshake failure with a traceback at ERROR; keep it in the file only.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    return path
