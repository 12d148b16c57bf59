"""Project-wide settings, read once from the environment and an optional config file.

Every tunable default lives here (OSMnx style): functions take ``None`` for a
parameter and fall back to the value in this module. Values can be overridden by

1. environment variables (``HOSPITAL_HOTSPOTS_<NAME>``), then
2. a YAML file named by ``HOSPITAL_HOTSPOTS_CONFIG`` (keys are the lower-case
   names below, e.g. ``hospital_radius_m: 300``).

Environment variables win over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

#: Repository root (the folder holding ``geo/``).
ROOT: Path = Path(__file__).resolve().parent.parent
#: Editable data files shipped with the project (hospitals, districts, rules).
DATA_DIR: Path = ROOT / "data"
#: Git-ignored working folder for the embedded SQLite store, quarantine files, exports.
VAR_DIR: Path = Path(os.environ.get("HOSPITAL_HOTSPOTS_VAR", ROOT / "var"))

#: Time zone of all incident times (China Standard Time, no DST).
TIMEZONE: str = "Asia/Shanghai"

#: SQLAlchemy URL of the store. Default: a SQLite file in ``VAR_DIR``.
DB_URL: str = f"sqlite:///{VAR_DIR / 'hotspots.sqlite'}"

#: Radius (metres) within which an incident is attributed to its nearest key hospital.
HOSPITAL_RADIUS_M: float = 500.0
#: Edge length (metres) of the analysis grid for Gi* and forecasts.
GRID_SIZE_M: float = 100.0

#: Base map: an intranet XYZ tile URL template (``{z}/{x}/{y}``) or WMS URL; empty means
#: the local base map of district outlines and hospitals (the offline default).
TILE_URL: str = ""
#: Coordinate system of the tiles: ``wgs84`` or ``gcj02`` (most Chinese map services).
TILE_CRS: str = "wgs84"
#: Attribution shown on the map for the configured tiles.
TILE_ATTRIBUTION: str = ""

#: Severity weight per taxonomy category, used by the key-hospital score.
SEVERITY_WEIGHTS: dict[str, float] = {
    "号贩子/倒号": 3.0,
    "医托": 3.0,
    "医闹/扰乱秩序": 4.0,
    "黑救护车": 3.0,
    "非法行医": 3.0,
    "盗窃": 2.0,
    "诈骗": 2.0,
    "其他": 1.0,
}

#: Maximum upload size accepted by the importers (bytes); larger files are refused.
MAX_IMPORT_BYTES: int = 200 * 1024 * 1024
#: Maximum uncompressed size of an XLSX (zip bomb guard, bytes).
MAX_XLSX_UNCOMPRESSED_BYTES: int = 1024 * 1024 * 1024
#: Maximum length of one text cell kept on import (characters); longer cells are cut.
MAX_CELL_CHARS: int = 4000

#: Minutes of inactivity after which a signed-in dashboard session expires.
SESSION_TIMEOUT_MIN: int = 30

_ENV_PREFIX = "HOSPITAL_HOTSPOTS_"


def _coerce(value: str, like: Any) -> Any:
    """Convert an environment string to the type of the default ``like``."""
    if isinstance(like, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    if isinstance(like, Path):
        return Path(value)
    if isinstance(like, dict):
        return yaml.safe_load(value)
    return value


def _apply_overrides() -> None:
    """Apply the config file, then the environment, to the module globals."""
    g = globals()
    names = [n for n in g if n.isupper() and not n.startswith("_")]
    cfg_path = os.environ.get(_ENV_PREFIX + "CONFIG")
    if cfg_path:
        with open(cfg_path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh) or {}
        for key, value in cfg.items():
            name = str(key).upper()
            if name not in names:
                raise ValueError(f"Unknown setting {key!r} in {cfg_path}; known: {sorted(n.lower() for n in names)}")
            g[name] = _coerce(value, g[name]) if isinstance(value, str) else value
    for name in names:
        env = os.environ.get(_ENV_PREFIX + name)
        if env is not None:
            g[name] = _coerce(env, g[name])
    # The issue names this variable without the _URL suffix; accept both.
    if os.environ.get(_ENV_PREFIX + "DB"):
        g["DB_URL"] = os.environ[_ENV_PREFIX + "DB"]


_apply_overrides()
