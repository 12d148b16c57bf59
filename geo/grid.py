"""Regular square analysis grid in a metric projection.

Cells are aligned to multiples of the cell size in the projected CRS, so the same cell
keeps the same ``cell_id`` (``"<col>_<row>"`` of absolute cell indices) whatever the data
extent; a grid covers the data's bounding box plus a margin of whole cells, never more.
Arrays over the grid are shaped ``(ny, nx)`` with row 0 in the south.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import crs


@dataclass(frozen=True)
class Grid:
    """A bounded regular grid.

    Attributes
    ----------
    epsg
        Metric CRS of the grid (usually a UTM zone).
    col0, row0
        Absolute index of the south-west cell (``floor(x / cell_size)``).
    cell_size
        Edge length in metres.
    nx, ny
        Number of columns and rows.
    """

    epsg: int
    col0: int
    row0: int
    cell_size: float
    nx: int
    ny: int

    @classmethod
    def from_points(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        epsg: int,
        cell_size: float,
        margin_cells: int = 1,
    ) -> Grid:
        """The smallest aligned grid covering the finite points plus ``margin_cells`` cells."""
        if not cell_size or cell_size <= 0:
            raise ValueError(f"`cell_size` must be a positive number of metres, got {cell_size!r}.")
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            raise ValueError("Cannot build a grid: no finite coordinates.")
        c_lo = int(np.floor(x[ok].min() / cell_size)) - margin_cells
        c_hi = int(np.floor(x[ok].max() / cell_size)) + margin_cells
        r_lo = int(np.floor(y[ok].min() / cell_size)) - margin_cells
        r_hi = int(np.floor(y[ok].max() / cell_size)) + margin_cells
        return cls(epsg=int(epsg), col0=c_lo, row0=r_lo, cell_size=float(cell_size),
                   nx=c_hi - c_lo + 1, ny=r_hi - r_lo + 1)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.nx * self.ny

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell in square metres."""
        return self.cell_size**2

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index (``row * nx + col``) of each point; -1 outside the grid or not finite."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        col = np.full(x.shape, -1, dtype=np.int64)
        row = np.full(y.shape, -1, dtype=np.int64)
        col[ok] = np.floor(x[ok] / self.cell_size).astype(np.int64) - self.col0
        row[ok] = np.floor(y[ok] / self.cell_size).astype(np.int64) - self.row0
        inside = ok & (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return np.where(inside, row * self.nx + col, -1)

    def counts(self, x: np.ndarray, y: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
        """Number (or weighted sum) of points per cell, shaped ``(ny, nx)``."""
        idx = self.locate(x, y)
        keep = idx >= 0
        w = None if weights is None else np.asarray(weights, dtype=float)[keep]
        flat = np.bincount(idx[keep], weights=w, minlength=self.n_cells).astype(float)
        return flat.reshape(self.ny, self.nx)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Projected centre coordinates of all cells, flat in index order."""
        rows, cols = np.divmod(np.arange(self.n_cells), self.nx)
        x = (cols + self.col0 + 0.5) * self.cell_size
        y = (rows + self.row0 + 0.5) * self.cell_size
        return x, y

    def cell_ids(self, index: np.ndarray | None = None) -> np.ndarray:
        """Stable string ids ``"<col>_<row>"`` (absolute indices) of the given flat indices."""
        index = np.arange(self.n_cells) if index is None else np.asarray(index, dtype=np.int64)
        rows, cols = np.divmod(index, self.nx)
        return np.char.add(np.char.add((cols + self.col0).astype(str), "_"), (rows + self.row0).astype(str))

    def bounds_wgs84(self, index: np.ndarray | None = None) -> pd.DataFrame:
        """WGS-84 centre and corner extremes of cells: cell_id, lon, lat, min_lon, min_lat, max_lon, max_lat."""
        index = np.arange(self.n_cells) if index is None else np.asarray(index, dtype=np.int64)
        rows, cols = np.divmod(index, self.nx)
        x0 = (cols + self.col0) * self.cell_size
        y0 = (rows + self.row0) * self.cell_size
        s = self.cell_size
        corners_x = np.stack([x0, x0 + s, x0 + s, x0])
        corners_y = np.stack([y0, y0, y0 + s, y0 + s])
        lon_c, lat_c = crs.unproject(corners_x.ravel(), corners_y.ravel(), self.epsg)
        lon_c = lon_c.reshape(4, -1)
        lat_c = lat_c.reshape(4, -1)
        lon, lat = crs.unproject(x0 + s / 2, y0 + s / 2, self.epsg)
        return pd.DataFrame({
            "cell_id": self.cell_ids(index),
            "lon": lon, "lat": lat,
            "min_lon": lon_c.min(axis=0), "min_lat": lat_c.min(axis=0),
            "max_lon": lon_c.max(axis=0), "max_lat": lat_c.max(axis=0),
        })

    def polygons_wgs84(self, index: np.ndarray | None = None) -> np.ndarray:
        """Cell outlines as WGS-84 shapely polygons (the projected square's four corners)."""
        index = np.arange(self.n_cells) if index is None else np.asarray(index, dtype=np.int64)
        rows, cols = np.divmod(index, self.nx)
        x0 = (cols + self.col0) * self.cell_size
        y0 = (rows + self.row0) * self.cell_size
        s = self.cell_size
        xs = np.stack([x0, x0 + s, x0 + s, x0, x0], axis=1)
        ys = np.stack([y0, y0, y0 + s, y0 + s, y0], axis=1)
        lon, lat = crs.unproject(xs.ravel(), ys.ravel(), self.epsg)
        coords = np.stack([lon, lat], axis=1).reshape(-1, 5, 2)
        return shapely.polygons(coords)

    def to_geodataframe(self, data: pd.DataFrame, index: np.ndarray) -> gpd.GeoDataFrame:
        """Attach ``cell_id`` and WGS-84 polygons of cells ``index`` to ``data`` (same length)."""
        frame = data.reset_index(drop=True).copy()
        frame.insert(0, "cell_id", self.cell_ids(index))
        return gpd.GeoDataFrame(frame, geometry=self.polygons_wgs84(index), crs="EPSG:4326")
