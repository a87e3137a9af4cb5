"""The process `hashwall serve` becomes: the server itself, or with `--workers N`,
uvicorn's supervisor, nothing more.

`hashwall serve` execs into this module (same process id) once it has checked the schema,
so neither a lone server nor the parent that only watches the workers keeps the whole CLI
in memory (about 60 MB of imports for a parent; 7 MB more in a server, with httpx and rich
for the feeds and progress bars), and the workers it spawns do not import the CLI again
either. The server, or each worker, builds its own app and index from the environment
(`app_from_environment`).

    python -m app.supervise HOST PORT WORKERS LOG_LEVEL LOG_JSON
"""

from __future__ import annotations

import sys

import uvicorn

from app.logs import configure_logging


def main(argv: list[str]) -> None:
    """Serve the app in this process (one worker), or run uvicorn's supervisor over
    `workers` processes of it."""
    host, port, workers, log_level, log_json = argv
    configure_logging(log_level, log_json == "1")
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        workers=int(workers),
        host=host,
        port=int(port),
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
