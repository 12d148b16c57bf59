"""Private helpers that read the columns every analysis needs from an events frame.

Any frame with ``lon``, ``lat`` (WGS-84) and, for time analyses, ``received_at`` works: the
store's :func:`core.db.load_incidents` output, or a generic point CSV renamed to those
columns. Times keep their own wall clock: tz-aware values are read in their own zone (the
store gives Asia/Shanghai), because hour-of-day patterns belong to local clock time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo import crs

TIME_COL = "received_at"


def require_columns(events: pd.DataFrame, columns: tuple[str, ...], *, name: str = "events") -> None:
    """Raise a ValueError naming every missing column at once."""
    if not isinstance(events, pd.DataFrame):
        raise ValueError(f"`{name}` must be a pandas DataFrame, got {type(events).__name__}.")
    missing = [c for c in columns if c not in events.columns]
    if missing:
        raise ValueError(f"`{name}` lacks column(s) {missing}; it has {list(events.columns)}.")


def local_times(events: pd.DataFrame, *, column: str = TIME_COL) -> pd.Series:
    """Event times as naive wall-clock timestamps (``datetime64[ns]``)."""
    require_columns(events, (column,))
    t = pd.to_datetime(events[column])
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    return t.astype("datetime64[ns]")


def lonlat(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude as float arrays."""
    require_columns(events, ("lon", "lat"))
    return (
        pd.to_numeric(events["lon"], errors="coerce").to_numpy(dtype=float),
        pd.to_numeric(events["lat"], errors="coerce").to_numpy(dtype=float),
    )


def project_events(events: pd.DataFrame, *, epsg: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Project the events to metres (UTM zone of the data unless ``epsg`` is given)."""
    lon, lat = lonlat(events)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValueError("`events` has no finite lon/lat coordinates.")
    if epsg is None:
        epsg = crs.metric_epsg(lon[ok], lat[ok])
    x = np.full(lon.shape, np.nan)
    y = np.full(lat.shape, np.nan)
    x[ok], y[ok], epsg = crs.project(lon[ok], lat[ok], epsg)
    return x, y, epsg
