//! Places the rules test positions against: distances, circles and polygons (geofences), risk
//! locations (二押点) with a grid index so that a fix is compared with the few nearby, and the
//! province boundaries shipped in `data/provinces.geojson`. Coordinates are WGS-84 degrees.

use std::collections::HashMap;

use geo::{BoundingRect, Contains, Distance, Haversine, MultiPolygon, Point, Polygon, Rect};
use leasewatch_store::risk_location::RiskLocation;
use serde::{Deserialize, Serialize};

/// Metres between two points (latitude, longitude).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// A geofence's shape, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// A circle.
    Circle {
        /// Centre latitude.
        latitude: f64,
        /// Centre longitude.
        longitude: f64,
        /// Radius in metres.
        radius_m: f64,
    },
    /// A polygon: its ring as `[longitude, latitude]` pairs.
    Polygon(Vec<[f64; 2]>),
}

/// Why a shape was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// Coordinates out of range.
    #[error("coordinates out of range")]
    OutOfRange,
    /// Radius not in 10 m..=100 km.
    #[error("radius must be 10 to 100000 metres")]
    Radius,
    /// Fewer than three corners, or more than 10,000.
    #[error("a polygon needs 3 to 10000 corners")]
    Corners,
}

fn in_range(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// A shape ready for tests.
#[derive(Debug, Clone)]
pub enum Area {
    /// Centre (lat, lon) and radius.
    Circle((f64, f64), f64),
    /// Polygon and its bounding box.
    Polygon(Box<Polygon<f64>>, Rect<f64>),
}

impl Shape {
    /// Checks the shape and prepares it.
    pub fn area(&self) -> Result<Area, ShapeError> {
        match self {
            Self::Circle { latitude, longitude, radius_m } => {
                if !in_range(*latitude, *longitude) {
                    return Err(ShapeError::OutOfRange);
                }
                if !(10.0..=100_000.0).contains(radius_m) {
                    return Err(ShapeError::Radius);
                }
                Ok(Area::Circle((*latitude, *longitude), *radius_m))
            }
            Self::Polygon(ring) => {
                if !(3..=10_000).contains(&ring.len()) {
                    return Err(ShapeError::Corners);
                }
                if ring.iter().any(|[lon, lat]| !in_range(*lat, *lon)) {
                    return Err(ShapeError::OutOfRange);
                }
                let polygon = Polygon::new(ring.iter().map(|[x, y]| geo::coord! { x: *x, y: *y }).collect(), vec![]);
                let rect = polygon.bounding_rect().ok_or(ShapeError::Corners)?;
                Ok(Area::Polygon(Box::new(polygon), rect))
            }
        }
    }
}

impl Area {
    /// Whether the point (lat, lon) is inside.
    pub fn contains(&self, at: (f64, f64)) -> bool {
        match self {
            Self::Circle(centre, radius) => distance_m(*centre, at) <= *radius,
            Self::Polygon(polygon, rect) => {
                let p = Point::new(at.1, at.0);
                rect.contains(&p) && polygon.contains(&p)
            }
        }
    }
}

/// Grid cells of 0.2° (about 22 km north–south): wider than the largest risk location (10 km),
/// so a point's own cell and its neighbours hold every location that can contain it.
const CELL_DEG: f64 = 0.2;

fn cell(lat: f64, lon: f64) -> (i32, i32) {
    ((lat / CELL_DEG).floor() as i32, (lon / CELL_DEG).floor() as i32)
}

/// Risk locations, indexed by grid cell.
#[derive(Debug, Clone, Default)]
pub struct RiskIndex {
    locations: Vec<RiskLocation>,
    cells: HashMap<(i32, i32), Vec<usize>>,
}

impl RiskIndex {
    /// An index of `locations`.
    pub fn new(locations: Vec<RiskLocation>) -> Self {
        let mut cells: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
        for (i, l) in locations.iter().enumerate() {
            cells.entry(cell(l.latitude, l.longitude)).or_default().push(i);
        }
        Self { locations, cells }
    }

    /// The location containing (lat, lon), the nearest centre first when several do.
    pub fn find(&self, at: (f64, f64)) -> Option<&RiskLocation> {
        let (r, c) = cell(at.0, at.1);
        let mut best: Option<(f64, &RiskLocation)> = None;
        for dr in -1..=1 {
            for dc in -1..=1 {
                for &i in self.cells.get(&(r + dr, c + dc)).into_iter().flatten() {
                    let l = &self.locations[i];
                    let d = distance_m((l.latitude, l.longitude), at);
                    if d <= f64::from(l.radius_m) && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, l));
                    }
                }
            }
        }
        best.map(|(_, l)| l)
    }
}

/// One province-level division.
#[derive(Debug, Clone)]
pub struct Province {
    /// GB/T 2260 code, e.g. `440000`.
    pub adcode: String,
    /// Its name.
    pub name: String,
    shape: MultiPolygon<f64>,
    rect: Rect<f64>,
}

impl Province {
    /// Whether (lat, lon) is inside.
    pub fn contains(&self, at: (f64, f64)) -> bool {
        let p = Point::new(at.1, at.0);
        self.rect.contains(&p) && self.shape.contains(&p)
    }
}

/// Why the province file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProvincesError {
    /// Not GeoJSON of the expected shape.
    #[error("province boundaries: {0}")]
    Format(String),
}

#[derive(Deserialize)]
struct Collection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    properties: Properties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct Properties {
    adcode: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum Geometry {
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

fn polygon(rings: Vec<Vec<[f64; 2]>>) -> Polygon<f64> {
    let mut rings = rings.into_iter().map(|r| r.into_iter().map(|[x, y]| geo::coord! { x: x, y: y }).collect());
    let exterior = rings.next().unwrap_or_else(|| geo::LineString::new(vec![]));
    Polygon::new(exterior, rings.collect())
}

/// The province-level divisions of China.
#[derive(Debug, Clone, Default)]
pub struct Provinces {
    provinces: Vec<Province>,
}

impl Provinces {
    /// Reads a GeoJSON FeatureCollection whose features carry `adcode` and `name`.
    pub fn from_geojson(text: &str) -> Result<Self, ProvincesError> {
        let collection: Collection = serde_json::from_str(text).map_err(|e| ProvincesError::Format(e.to_string()))?;
        let mut provinces = Vec::with_capacity(collection.features.len());
        for f in collection.features {
            let shape = match f.geometry {
                Geometry::Polygon(rings) => MultiPolygon::new(vec![polygon(rings)]),
                Geometry::MultiPolygon(polys) => MultiPolygon::new(polys.into_iter().map(polygon).collect()),
            };
            let rect = shape
                .bounding_rect()
                .ok_or_else(|| ProvincesError::Format(format!("{} has no coordinates", f.properties.adcode)))?;
            provinces.push(Province { adcode: f.properties.adcode, name: f.properties.name, shape, rect });
        }
        Ok(Self { provinces })
    }

    /// The province with `adcode`.
    pub fn get(&self, adcode: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.adcode == adcode)
    }

    /// The province containing (lat, lon).
    pub fn locate(&self, at: (f64, f64)) -> Option<&Province> {
        self.provinces.iter().find(|p| p.contains(at))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.provinces.len()
    }

    /// Whether none were loaded.
    pub fn is_empty(&self) -> bool {
        self.provinces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_known_city_pairs() {
        // Shenzhen to Guangzhou, about 104 km as the crow flies.
        let d = distance_m((22.54, 114.06), (23.13, 113.26));
        assert!((100_000.0..108_000.0).contains(&d), "{d}");
    }

    #[test]
    fn circles_and_polygons_contain_what_they_cover() {
        let circle = Shape::Circle { latitude: 22.54, longitude: 114.06, radius_m: 500.0 }.area();
        let Ok(circle) = circle else { unreachable!() };
        assert!(circle.contains((22.541, 114.061)));
        assert!(!circle.contains((22.56, 114.06)));
        let square = Shape::Polygon(vec![[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6]]).area();
        let Ok(square) = square else { unreachable!() };
        assert!(square.contains((22.55, 114.05)));
        assert!(!square.contains((22.65, 114.05)));
        assert_eq!(Shape::Polygon(vec![[0.0, 0.0]]).area().err(), Some(ShapeError::Corners));
        assert_eq!(
            Shape::Circle { latitude: 91.0, longitude: 0.0, radius_m: 50.0 }.area().err(),
            Some(ShapeError::OutOfRange)
        );
    }

    #[test]
    fn the_risk_index_finds_the_containing_location_across_cell_edges() {
        let at = |id, lat, lon, r| RiskLocation {
            id,
            name: format!("l{id}"),
            kind: "used_car_market".into(),
            latitude: lat,
            longitude: lon,
            radius_m: r,
            region_id: 1,
            active: true,
            version: 1,
            created_at: chrono::Utc::now(),
        };
        // 22.6 is a cell edge: a location just north of it still covers a point just south.
        let index = RiskIndex::new(vec![at(1, 22.6005, 114.0, 300), at(2, 30.0, 120.0, 100)]);
        assert_eq!(index.find((22.5995, 114.0)).map(|l| l.id), Some(1));
        assert_eq!(index.find((22.61, 114.0)), None);
        assert_eq!(index.find((30.0005, 120.0)).map(|l| l.id), Some(2));
    }

    #[test]
    fn the_shipped_provinces_place_cities_where_they_are() {
        let text = include_str!("../../data/provinces.geojson");
        let Ok(provinces) = Provinces::from_geojson(text) else { unreachable!() };
        assert!(provinces.len() >= 31, "{}", provinces.len());
        let code = |at| provinces.locate(at).map(|p| p.adcode.as_str());
        assert_eq!(code((22.54, 114.06)), Some("440000"));
        assert_eq!(code((23.13, 113.26)), Some("440000"));
        assert_eq!(code((39.90, 116.40)), Some("110000"));
        assert_eq!(code((28.23, 112.94)), Some("430000"));
        assert_eq!(code((20.0, 117.0)), None);
    }
}
