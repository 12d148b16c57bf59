"""Coordinate systems: WGS-84, the Chinese GCJ-02 and BD-09 offsets, and metric projections.

GCJ-02 ("Mars coordinates", used by Amap and Tencent maps) and BD-09 (Baidu) are
obfuscated datums that pyproj does not know. The forward transform below is the
published algorithm (the one in the public ``eviltransform`` and ``coordtransform``
libraries, ellipsoid a = 6378245.0, ee = 0.00669342162296594323). Its one-step
inverse is off by up to ~5 m, so :func:`gcj02_to_wgs84` iterates the forward
transform to a fixed point, converging to well below a millimetre.

All functions are vectorised over numpy arrays and accept scalars.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

#: Semi-major axis of Krasovsky 1940 as used by the GCJ-02 algorithm (metres).
_A = 6378245.0
#: First eccentricity squared of the same ellipsoid.
_EE = 0.00669342162296594323
#: Constant of the BD-09 transform (x_pi = pi * 3000 / 180).
_X_PI = np.pi * 3000.0 / 180.0

#: Rough bounding box of China used by the GCJ-02 algorithm: outside it no offset applies.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)  # min_lon, min_lat, max_lon, max_lat

#: Known coordinate systems of input data.
CRS_NAMES = ("wgs84", "gcj02", "bd09")


def _as_float(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def in_china(lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.bool_]:
    """Return True where a point lies in the rough China box where GCJ-02 offsets apply."""
    lon, lat = _as_float(lon), _as_float(lat)
    return (lon >= CHINA_BBOX[0]) & (lon <= CHINA_BBOX[2]) & (lat >= CHINA_BBOX[1]) & (lat <= CHINA_BBOX[3])


def _delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (degrees) at WGS-84 point ``(lon, lat)``."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Transform WGS-84 to GCJ-02. Points outside China are returned unchanged."""
    lon, lat = _as_float(lon), _as_float(lat)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol: float = 1e-10, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Transform GCJ-02 to WGS-84 by fixed-point iteration of the forward transform.

    Parameters
    ----------
    lon, lat
        GCJ-02 coordinates in degrees.
    tol
        Stop when the forward image of the estimate is within ``tol`` degrees of the input
        (1e-10 degrees is about 0.01 mm).
    max_iter
        Upper bound on iterations; 5–6 are typical.
    """
    glon, glat = _as_float(lon), _as_float(lat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.all(np.abs(elon) < tol) and np.all(np.abs(elat) < tol):
            break
    return wlon, wlat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Transform GCJ-02 to Baidu's BD-09."""
    x, y = _as_float(lon), _as_float(lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Transform BD-09 to GCJ-02, iterating the forward transform to a fixed point."""
    blon, blat = _as_float(lon), _as_float(lat)
    # Closed-form first guess (the published inverse), then refine.
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(10):
        flon, flat = gcj02_to_bd09(glon, glat)
        glon, glat = glon - (flon - blon), glat - (flat - blat)
    return glon, glat


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Transform WGS-84 to BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Transform BD-09 to WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Transform coordinates given in ``crs`` (one of :data:`CRS_NAMES`) to WGS-84."""
    crs = normalize_crs_name(crs)
    if crs == "wgs84":
        return _as_float(lon), _as_float(lat)
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    return bd09_to_wgs84(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Transform WGS-84 coordinates to ``crs`` (e.g. to overlay points on GCJ-02 tiles)."""
    crs = normalize_crs_name(crs)
    if crs == "wgs84":
        return _as_float(lon), _as_float(lat)
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    return wgs84_to_bd09(lon, lat)


_ALIASES = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gps": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02", "amap": "gcj02", "gaode": "gcj02", "高德": "gcj02", "火星": "gcj02",
    "tencent": "gcj02", "腾讯": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "baidu": "bd09", "百度": "bd09",
}


def normalize_crs_name(crs: str) -> str:
    """Return the canonical name (``wgs84``, ``gcj02`` or ``bd09``) of a CRS alias."""
    key = str(crs).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"Unknown coordinate system {crs!r}; expected one of {', '.join(CRS_NAMES)}.")
    return _ALIASES[key]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone holding ``(lon, lat)`` (WGS-84)."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=32)
def _transformer(epsg: int, inverse: bool) -> Transformer:
    src, dst = CRS.from_epsg(4326), CRS.from_epsg(epsg)
    if inverse:
        src, dst = dst, src
    return Transformer.from_crs(src, dst, always_xy=True)


def metric_epsg(lon: ArrayLike, lat: ArrayLike) -> int:
    """Pick a metric CRS (the UTM zone of the data's median point) for distances and grids."""
    lon, lat = _as_float(lon), _as_float(lat)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValueError("Cannot choose a metric projection: no finite coordinates.")
    return utm_epsg(float(np.median(lon[ok])), float(np.median(lat[ok])))


def project(lon: ArrayLike, lat: ArrayLike, epsg: int | None = None) -> tuple[FloatArray, FloatArray, int]:
    """Project WGS-84 lon/lat to metres.

    Returns ``(x, y, epsg)``; when ``epsg`` is None the UTM zone of the data is used, and
    returned so that results can be projected back with :func:`unproject`.
    """
    lon, lat = _as_float(lon), _as_float(lat)
    if epsg is None:
        epsg = metric_epsg(lon, lat)
    x, y = _transformer(epsg, False).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), epsg


def unproject(x: ArrayLike, y: ArrayLike, epsg: int) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`project`: metres in ``epsg`` back to WGS-84 lon/lat."""
    lon, lat = _transformer(epsg, True).transform(_as_float(x), _as_float(y))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatArray:
    """Great-circle distance in metres (for checks; analysis uses projected metres)."""
    lon1, lat1, lon2, lat2 = map(lambda a: np.radians(_as_float(a)), (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(h))
