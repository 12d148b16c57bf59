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

#: Hotspot engine: DBSCAN neighbourhood radius (metres) for incident clusters.
CLUSTER_EPS_M: float = 50.0
#: Hotspot engine: minimum incidents (weighted) within ``CLUSTER_EPS_M`` for a DBSCAN core point.
CLUSTER_MIN_SAMPLES: int = 10
#: Hotspot engine: false discovery rate (Benjamini–Hochberg) under which a Gi* cell is significant.
GI_FDR_ALPHA: float = 0.05
#: Hotspot engine: share of incidents that peak windows must hold.
PEAK_SHARE: float = 0.5
#: Hotspot engine: resolution (minutes) of the time-of-day bins for peak windows.
PEAK_RESOLUTION_MIN: int = 15

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
#: Failed sign-ins of one user name within ``LOGIN_LOCKOUT_MIN`` after which sign-in is refused.
LOGIN_MAX_FAILURES: int = 5
#: Window (minutes) over which failed sign-ins are counted, and how long a lockout lasts.
LOGIN_LOCKOUT_MIN: int = 15
#: Minimum password length (characters) for new passwords; there is no default password.
MIN_PASSWORD_LENGTH: int = 10

# --- planning (owner: planning engineer) ------------------------------------------------
#: Number of hospitals proposed for the key-hospital list (挂账整治名单) each month.
KEYLIST_SIZE: int = 10
#: A listed hospital is proposed for de-listing (销号) only when its rank falls below this
#: multiple of ``KEYLIST_SIZE`` (hysteresis, so the list does not flap month to month).
KEYLIST_DELIST_RANK_FACTOR: float = 1.5
#: Months before the assessed month used as the trend baseline.
KEYLIST_TREND_MONTHS: int = 3
#: Weights of the key-hospital score components (each scaled to 0..1 across hospitals).
KEYLIST_WEIGHTS: dict[str, float] = {"severity": 0.5, "complaints": 0.2, "trend": 0.15, "hotspot": 0.15}
#: Candidate durations (hours) of a monthly concentrated action.
ACTION_DURATIONS_H: tuple = (2, 3, 4)
#: Earliest start and latest end (local hours) of a concentrated action.
ACTION_DAY_START_H: int = 6
ACTION_DAY_END_H: int = 22
#: Minimum officers per action for the least and the most risky listed hospital (linear in between).
ACTION_MIN_OFFICERS: tuple = (4, 10)
#: Maximum officers per action for the least and the most risky listed hospital.
ACTION_MAX_OFFICERS: tuple = (10, 30)
#: Relative MIP gap at which the action solver stops (1 %).
ACTION_MIP_GAP: float = 0.01
#: Time limit (seconds) of one action MILP solve.
ACTION_TIME_LIMIT_S: float = 30.0
#: Length (minutes) of a patrol planning slot.
PATROL_SLOT_MIN: int = 30
#: Shortest and longest patrol visit (minutes): Koper (1995), Telep et al. (2014) 12-16 min.
PATROL_VISIT_MIN: tuple = (12, 16)
#: Longest gap (minutes) between visits of a hot point during its peak window (Koper: ~2 h).
PATROL_MAX_REVISIT_MIN: int = 120
#: Shifts of stationed officers: name -> (start, end, meal window start, meal window end), local "HH:MM".
PATROL_SHIFTS: dict = {
    "早班": ("06:00", "14:00", "11:00", "12:30"),
    "晚班": ("13:00", "21:00", "17:00", "18:30"),
}
#: Maximum working hours per officer per day and per 7 days (meal break not counted).
PATROL_MAX_HOURS_DAY: float = 8.0
PATROL_MAX_HOURS_WEEK: float = 40.0
#: Rest days per officer in every 7 days.
PATROL_REST_DAYS_PER_WEEK: int = 2
#: Highest coverage probability of any (point, slot): a certain visit is a predictable one.
PATROL_MAX_COVERAGE: float = 0.9
#: Days of history before the planned month used for patrol points and their risk shares.
PATROL_LOOKBACK_DAYS: int = 90
#: Metres from the hospital point of its fixed patrol points (registration hall, gates).
PATROL_FIXED_POINT_OFFSET_M: float = 60.0
#: Hours during which a check-in or an action result may still be changed by its author or a commander.
RECORD_EDIT_HOURS: int = 72
#: Below this share of the largest possible entropy (over points, or over times of day), a hospital's
#: visits are called predictable; the re-planner warns when an edit lowers a hospital below it.
PATROL_MIN_ENTROPY_SHARE: float = 0.5

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
