"""Project-wide settings: plain typed values, loaded once, in one explicit step.

Every tunable default lives in :class:`Settings` (OSMnx style: functions take ``None`` for a parameter and fall
back to the setting). :func:`load` builds the values from, in order of precedence,

1. environment variables ``HOSPITAL_HOTSPOTS_<NAME>`` (e.g. ``HOSPITAL_HOTSPOTS_PATROL_VISIT_MIN=10,14``),
2. a YAML file named by ``HOSPITAL_HOTSPOTS_CONFIG`` (keys are the lower-case names, e.g. ``hospital_radius_m: 300``),
3. the defaults below,

converting each value to its declared type (tuples from ``a,b`` or YAML lists, paths, dicts from YAML) and then
deriving the values that follow others (``db_url`` from ``var_dir``). Unknown keys and unconvertible values raise
:class:`SettingsError` naming them, all at once.

Code reads ``settings.GRID_SIZE_M`` (module attribute, upper case) — the current :class:`Settings` loaded on first
use; :func:`configure` replaces it (tests, the CLI's ``--config``).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Repository root (the folder holding ``core/``).
ROOT: Path = Path(__file__).resolve().parent.parent
_ENV_PREFIX = "HOSPITAL_HOTSPOTS_"
#: Environment names kept for compatibility with earlier releases: alias -> field.
_ENV_ALIASES = {"DB": "db_url", "VAR": "var_dir"}


class SettingsError(ValueError):
    """A setting from the environment or the config file is unknown or cannot be converted."""


@dataclass(frozen=True)
class Settings:
    """Every tunable value of the project, typed. Build with :func:`load`, not directly."""

    #: Editable data files shipped with the project (hospitals, districts, rules).
    data_dir: Path = ROOT / "data"
    #: Git-ignored working folder for the embedded SQLite store, quarantine files, exports
    #: (environment: ``HOSPITAL_HOTSPOTS_VAR`` or ``HOSPITAL_HOTSPOTS_VAR_DIR``).
    var_dir: Path = ROOT / "var"

    #: Time zone of all incident times (China Standard Time, no DST).
    timezone: str = "Asia/Shanghai"

    #: SQLAlchemy URL of the store (environment: ``HOSPITAL_HOTSPOTS_DB``). Empty: a SQLite file in ``var_dir``,
    #: derived after loading so a ``var_dir`` from the file or the environment moves the store with it.
    db_url: str = ""

    #: Radius (metres) within which an incident is attributed to its nearest key hospital.
    hospital_radius_m: float = 500.0
    #: Edge length (metres) of the analysis grid for Gi* and forecasts.
    grid_size_m: float = 100.0

    #: Base map: an intranet XYZ tile URL template (``{z}/{x}/{y}``) or WMS URL; empty means
    #: the local base map of district outlines and hospitals (the offline default).
    tile_url: str = ""
    #: Coordinate system of the tiles: ``wgs84`` or ``gcj02`` (most Chinese map services).
    tile_crs: str = "wgs84"
    #: Attribution shown on the map for the configured tiles.
    tile_attribution: str = ""

    #: Hotspot engine: DBSCAN neighbourhood radius (metres) for incident clusters.
    cluster_eps_m: float = 50.0
    #: Hotspot engine: minimum incidents (weighted) within ``CLUSTER_EPS_M`` for a DBSCAN core point.
    cluster_min_samples: int = 10
    #: Hotspot engine: false discovery rate (Benjamini–Hochberg) under which a Gi* cell is significant.
    gi_fdr_alpha: float = 0.05
    #: Hotspot engine: share of incidents that peak windows must hold.
    peak_share: float = 0.5
    #: Hotspot engine: resolution (minutes) of the time-of-day bins for peak windows.
    peak_resolution_min: int = 15

    #: Severity weight per taxonomy category, used by the key-hospital score.
    severity_weights: dict[str, float] = field(default_factory=lambda: {
        "号贩子/倒号": 3.0,
        "医托": 3.0,
        "医闹/扰乱秩序": 4.0,
        "黑救护车": 3.0,
        "非法行医": 3.0,
        "盗窃": 2.0,
        "诈骗": 2.0,
        "其他": 1.0,
    })

    #: Maximum upload size accepted by the importers (bytes); larger files are refused.
    max_import_bytes: int = 200 * 1024 * 1024
    #: Maximum uncompressed size of an XLSX (zip bomb guard, bytes).
    max_xlsx_uncompressed_bytes: int = 1024 * 1024 * 1024
    #: Maximum length of one text cell kept on import (characters); longer cells are cut.
    max_cell_chars: int = 4000

    #: Minutes of inactivity after which a signed-in dashboard session expires.
    session_timeout_min: int = 30
    #: Failed sign-ins of one user name within ``LOGIN_LOCKOUT_MIN`` after which sign-in is refused.
    login_max_failures: int = 5
    #: Window (minutes) over which failed sign-ins are counted, and how long a lockout lasts.
    login_lockout_min: int = 15
    #: Minimum password length (characters) for new passwords; there is no default password.
    min_password_length: int = 10

    # --- planning (owner: planning engineer) ------------------------------------------------
    #: Number of hospitals proposed for the key-hospital list (挂账整治名单) each month.
    keylist_size: int = 10
    #: A listed hospital is proposed for de-listing (销号) only when its rank falls below this
    #: multiple of ``KEYLIST_SIZE`` (hysteresis, so the list does not flap month to month).
    keylist_delist_rank_factor: float = 1.5
    #: Months before the assessed month used as the trend baseline.
    keylist_trend_months: int = 3
    #: Weights of the key-hospital score components (each scaled to 0..1 across hospitals).
    keylist_weights: dict[str, float] = field(default_factory=lambda: {"severity": 0.5, "complaints": 0.2, "trend": 0.15, "hotspot": 0.15})
    #: Candidate durations (hours) of a monthly concentrated action.
    action_durations_h: tuple[int, ...] = (2, 3, 4)
    #: Earliest start and latest end (local hours) of a concentrated action.
    action_day_start_h: int = 6
    action_day_end_h: int = 22
    #: Minimum officers per action for the least and the most risky listed hospital (linear in between).
    action_min_officers: tuple[int, int] = (4, 10)
    #: Maximum officers per action for the least and the most risky listed hospital.
    action_max_officers: tuple[int, int] = (10, 30)
    #: Relative MIP gap at which the action solver stops (1 %).
    action_mip_gap: float = 0.01
    #: Time limit (seconds) of one action MILP solve.
    action_time_limit_s: float = 30.0
    #: Length (minutes) of a patrol planning slot.
    patrol_slot_min: int = 30
    #: Shortest and longest patrol visit (minutes): Koper (1995), Telep et al. (2014) 12-16 min.
    patrol_visit_min: tuple[int, int] = (12, 16)
    #: Longest gap (minutes) between visits of a hot point during its peak window (Koper: ~2 h).
    patrol_max_revisit_min: int = 120
    #: Shifts of stationed officers: name -> (start, end, meal window start, meal window end), local "HH:MM".
    patrol_shifts: dict[str, tuple[str, str, str, str]] = field(default_factory=lambda: {
        "早班": ("06:00", "14:00", "11:00", "12:30"),
        "晚班": ("13:00", "21:00", "17:00", "18:30"),
    })
    #: Maximum working hours per officer per day and per 7 days (meal break not counted).
    patrol_max_hours_day: float = 8.0
    patrol_max_hours_week: float = 40.0
    #: Rest days per officer in every 7 days.
    patrol_rest_days_per_week: int = 2
    #: Highest coverage probability of any (point, slot): a certain visit is a predictable one.
    patrol_max_coverage: float = 0.9
    #: Days of history before the planned month used for patrol points and their risk shares.
    patrol_lookback_days: int = 90
    #: Metres from the hospital point of its fixed patrol points (registration hall, gates).
    patrol_fixed_point_offset_m: float = 60.0


    # --- trust (issue 11) ---------------------------------------------------------------------
    #: Failed sign-ins of one source (client address) before its attempts are slowed (password spraying).
    login_source_free_failures: int = 20
    #: First delay (seconds) once the free failures are used up; it doubles with each further failure.
    login_delay_base_s: float = 2.0
    #: Longest delay (seconds) for one user name: attempts are slowed, never locked out for good (anyone can type a
    #: user name, so a long lock would let anyone lock out anyone).
    login_user_max_delay_s: float = 120.0
    #: Longest delay (seconds) for one source address.
    login_source_max_delay_s: float = 900.0
    #: Absolute lifetime (hours) of a signed-in browser session, whatever its activity.
    session_max_hours: float = 12.0
    #: Default lifetime (hours) of a read-only meeting-display session (会商大屏).
    display_session_hours: float = 4.0
    #: Name of the session cookie (HttpOnly, SameSite=Strict; Secure when served over TLS).
    session_cookie: str = "hh_session"
    #: Set the cookie's Secure flag (the dashboard is behind TLS); by default it is set when the request came by HTTPS.
    session_cookie_secure: bool = False
    #: Days a quarantine file of rejected rows (raw personal data) is kept before it is deleted.
    quarantine_retention_days: int = 30
    #: Import limits checked before a file is parsed (XLSX declared dimension, rows, columns; seconds of reading).
    max_import_rows: int = 2_000_000
    max_import_columns: int = 200
    max_import_seconds: float = 600.0

    #: Hours during which a check-in or an action result may still be changed by its author or a commander.
    record_edit_hours: int = 72
    #: Below this share of the largest possible entropy, a hospital's daily visits are called predictable
    #: (warned when an edit lowers it below; unedited demo plans range 0.54-0.97).
    patrol_min_entropy_share: float = 0.5

    #: Require the session cookie on every rerun (set by ``python -m dashboard.serve``, which serves the HTTP routes that
    #: set it). Off under plain ``streamlit run dashboard/app.py``: sessions are then server-side records held by the
    #: Streamlit session only (not bound to the browser; for development and tests).
    session_cookie_required: bool = False

    # --- persons (issue 14) --------------------------------------------------------------------
    #: Store the clear name, ID number and phone of person mentions (only where the deployment is allowed to);
    #: off by default: only keyed hashes and masked forms are stored.
    persons_keep_clear: bool = False
    #: File holding the secret key of the keyed identity hashes (HMAC-SHA256); empty means
    #: ``var_dir/persons_hash.key``. Created with :func:`secrets.token_bytes` (mode 0600) on first use.
    persons_hash_key_file: str = ""
    #: Watch-list hits with a similarity score below this are not imported as sightings.
    persons_min_score: float = 0.8
    #: Weight of the known targets' activity in the key-hospital score. The score is
    #: ``(1 - w) * (sum of KEYLIST_WEIGHTS components) + w * targets``, so the existing weights keep their
    #: meaning (shares of the non-target part) and the total still ranges 0..1; 0 switches it off.
    keylist_targets_weight: float = 0.1
    #: How strongly known targets' peak hours pull a concentrated action's window (share of the hospital's mean
    #: hourly risk added in the hours its targets peak; 0 ignores the targets).
    action_targets_weight: float = 0.5
    #: Hand-over template (watch list / blacklist fields agreed with hospitals and the health commission).
    persons_handover_template: str = "handover_template.yaml"
    #: The escalation ladder of sanctions, mildest first (keys), as the bureau counts them.
    sanction_ladder: tuple[str, ...] = ("warned", "fined", "detained", "prosecuted")
    #: Chinese label of each sanction of the ladder.
    sanction_labels: dict[str, str] = field(default_factory=lambda: {
        "warned": "警告/训诫", "fined": "罚款", "detained": "拘留", "prosecuted": "起诉/判刑",
    })

    def __post_init__(self) -> None:
        if not self.db_url:
            object.__setattr__(self, "db_url", f"sqlite:///{Path(self.var_dir) / 'hotspots.sqlite'}")


def _convert(value: Any, hint: Any, name: str) -> Any:
    """Convert ``value`` (a string from the environment, or a YAML value) to the type ``hint``."""
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{name}: expected true/false, got {value!r}")
    if hint in (int, float):
        try:
            return hint(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name}: expected a number, got {value!r}") from None
    if hint is str:
        return str(value)
    if hint is Path:
        return Path(str(value)).expanduser()
    if origin is tuple:
        args = typing.get_args(hint)
        items = value
        if isinstance(value, str):
            items = yaml.safe_load(value) if value.strip().startswith("[") else [v for v in value.split(",") if v.strip()]
        if not isinstance(items, list | tuple):
            raise SettingsError(f"{name}: expected a list such as 10,14, got {value!r}")
        item_types = [args[0]] * len(items) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(item_types) != len(items):
            raise SettingsError(f"{name}: expected {len(item_types)} values, got {len(items)} ({value!r})")
        return tuple(_convert(v, t, name) for v, t in zip(items, item_types, strict=True))
    if origin is dict:
        data = yaml.safe_load(value) if isinstance(value, str) else value
        if not isinstance(data, Mapping):
            raise SettingsError(f"{name}: expected a mapping, got {value!r}")
        _key_type, val_type = typing.get_args(hint)
        return {str(k): _convert(v, val_type, name) for k, v in data.items()}
    if isinstance(origin, type) and issubclass(origin, types.UnionType):  # pragma: no cover - not used
        return value
    return value


def load(environ: Mapping[str, str] | None = None, config_path: str | Path | None = None) -> Settings:
    """Build the settings from defaults, the config file and the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(Settings)
    names = {f.name for f in dataclasses.fields(Settings)}
    raw: dict[str, Any] = {}
    problems: list[str] = []
    cfg = config_path or env.get(_ENV_PREFIX + "CONFIG")
    if cfg:
        with open(cfg, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        for key, value in data.items():
            if str(key).lower() not in names:
                problems.append(f"unknown setting {key!r} in {cfg}")
            else:
                raw[str(key).lower()] = value
    for key, value in env.items():
        if not key.startswith(_ENV_PREFIX) or key == _ENV_PREFIX + "CONFIG" or key.startswith(_ENV_PREFIX + "TEST_"):
            continue
        short = key.removeprefix(_ENV_PREFIX)
        name = _ENV_ALIASES.get(short, short.lower())
        if name in names:
            raw[name] = value
    values: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            values[name] = _convert(value, hints[name], name)
        except SettingsError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError("Invalid settings: " + "; ".join(problems) + f". Known: {sorted(names)}")
    return Settings(**values)


_current: Settings | None = None


def current() -> Settings:
    """The settings in force (loaded on first use)."""
    global _current
    if _current is None:
        _current = load()
    return _current


def configure(settings: Settings | None = None, **overrides: Any) -> Settings:
    """Replace the settings in force: a given :class:`Settings`, or the current ones with ``overrides``."""
    global _current
    base = settings or current()
    derived_db = f"sqlite:///{Path(base.var_dir) / 'hotspots.sqlite'}"
    if "var_dir" in overrides and "db_url" not in overrides and base.db_url == derived_db:
        overrides["db_url"] = ""  # the store follows var_dir, as it does when loading
    _current = dataclasses.replace(base, **overrides) if overrides else base
    return _current


def __getattr__(name: str) -> Any:
    """``settings.GRID_SIZE_M`` reads the field ``grid_size_m`` of the current settings."""
    if name.isupper():
        try:
            return getattr(current(), name.lower())
        except AttributeError:
            pass
    raise AttributeError(f"module {__name__!r} has no setting {name!r}")
